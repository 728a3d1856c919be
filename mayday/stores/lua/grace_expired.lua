-- ARGV: 4 role, 5 sub, 6 drop number. The grace of that drop ran out; a timer of an
-- older drop, or one that fires after the identity came back, changes nothing.
local role, sub, n = ARGV[4], ARGV[5], tonumber(ARGV[6])
redis.call("ZREM", key("graces"), grace_member(role, sub, n))
if role == "user" then
  local req = open_request(sub)
  if req and not blank(req.user_dropped_at) and tonumber(req.user_drop_no) == n then user_lost(req) end
elseif role == "advisor" then
  local adv = load("adv", sub)
  if adv and not blank(adv.dropped_at) and tonumber(adv.drop_no) == n then advisor_lost(adv) end
end
return finish_op()
