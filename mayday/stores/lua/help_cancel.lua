-- ARGV: 4 user_id, 5 request_id, 6 outcome (cancelled, or message: a message left instead)
local user_id, request_id, outcome = ARGV[4], ARGV[5], ARGV[6]
local req = load("req", request_id)
if not req then refuse("not_found", 'no request "' .. request_id .. '"') end
if req.user_id ~= user_id then refuse("forbidden", "request belongs to another user") end
if not WAITING[req.state] then refuse("invalid_state", "request is " .. req.state .. ", not waiting") end
leave_queue(req, outcome, "cancelled")
send("user", req.user_id, {type = "help.closed", request_id = req.id, outcome = outcome})
return finish_op()
