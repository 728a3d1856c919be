-- ARGV: 4 role, 5 sub
local role, sub = ARGV[4], ARGV[5]
if role == "user" then
  local req = load("req", redis.call("GET", key("user", sub)) or "")
  if req and WAITING[req.state] then
    leave_queue(req, "abandoned", "abandoned")
  elseif req and req.session_id ~= "" then
    end_session(load("ses", req.session_id), "disconnected", "user")
  end
elseif role == "advisor" then
  local adv = load("adv", sub)
  if adv then
    if adv.offer ~= "" then withdraw_offer(adv, "away") end
    if adv.session_id ~= "" then end_session(load("ses", adv.session_id), "disconnected", "advisor") end
    redis.call("ZREM", key("free"), adv.id)
    redis.call("SREM", key("advisors"), adv.id)
    redis.call("DEL", key("adv", adv.id))
  end
end
return finish_op()
