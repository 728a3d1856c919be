-- ARGV: 4 request_id. A waiting request past its time-to-live leaves the queue on purpose.
local req = load("req", ARGV[4])
if not req or not WAITING[req.state] then return effects() end
if now - tonumber(req.enqueued_at) < cfg.request_ttl_s then return effects() end
leave_queue(req, "expired", "expired")
send("user", req.user_id, {type = "help.closed", request_id = req.id, outcome = "expired"})
return finish_op()
