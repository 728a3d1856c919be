-- ARGV: 4 request_id. A waiting request past its time-to-live leaves the queue on purpose.
local req = load("req", ARGV[4])
if not req or not WAITING[req.state] then return effects() end
if now - tonumber(req.enqueued_at) < cfg.request_ttl_s then return effects() end
local away = not blank(req.user_dropped_at)
leave_queue(req, "expired", "expired")
send("user", req.user_id, {
  type = "help.closed", request_id = req.id, outcome = "expired", leave_message = not away,
})
if away then
  out[#out + 1] = {
    k = "expired_away", request_id = req.id, user_id = req.user_id, user_name = req.user_name,
    topic = req.topic ~= "" and req.topic or cjson.null, requested_at = tonumber(req.enqueued_at),
  }
end
return finish_op()
