-- ARGV: 4 request_id. Its next escalation step or a decline's cooldown is due (the
-- twin of Router._on_route_due): idempotent, so the node that timed it and the sweeper
-- of any node may both fire it, early or late.
local req = load("req", ARGV[4])
if not req then
  redis.call("ZREM", key("route_due"), ARGV[4])
  return effects()
end
if not WAITING[req.state] then
  stop_route(req)
  return effects()
end
req.route_at = ""  -- this timer has fired: the next is started afresh
save("req", req, "route_at")
redis.call("ZREM", key("route_due"), req.id)
escalate(req)
touch(req.id)
return finish_op()
