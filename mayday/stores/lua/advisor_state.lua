-- ARGV: 4 advisor_id, 5 name, 6 skills JSON, 7 "1" available / "0" away,
-- 8 levels JSON ({skill: level}; a skill missing there has cfg.implied_level)
local advisor_id, available = ARGV[4], ARGV[7] == "1"
local adv = load("adv", advisor_id)
if adv and not blank(adv.dropped_at) then
  -- A frame from them: they are back (their return raced this frame).
  advisor_returned(advisor_id, false)
  adv = load("adv", advisor_id)
end
if not adv then
  adv = {id = advisor_id, name = ARGV[5], skills = ARGV[6], status = "away", wants = "0",
         idle_since = now, status_since = now, offer = "", session_id = "", missed = 0,
         claimable = "[]", levels = ARGV[8]}
  save("adv", adv, "id", "name", "skills", "status", "wants", "idle_since", "status_since",
    "offer", "session_id", "missed", "claimable", "levels")
  redis.call("SADD", key("advisors"), advisor_id)
  redis.call("HINCRBY", key("counts"), "away", 1)
end
adv.wants = available and "1" or "0"
save("adv", adv, "wants")
if available and adv.status == "away" then
  adv.idle_since = now
  save("adv", adv, "idle_since")
  set_advisor_status(adv, "available")
elseif not available and adv.status == "available" then
  set_advisor_status(adv, "away")
elseif not available and adv.status == "reserved" then
  withdraw_offer(adv, "away", "advisor_away")
end
send("advisor", adv.id, {type = "advisor.state", state = available and "available" or "away", reason = "requested"})
return finish_op()
