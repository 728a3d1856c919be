-- ARGV: 4 advisor_id, 5 name, 6 skills JSON, 7 levels JSON. An advisor's socket opened: one the
-- routing does not know yet is counted away until they choose (the twin of
-- Router._on_advisor_connected); one it knows is left as it is. Sends nothing.
local advisor_id = ARGV[4]
if redis.call("EXISTS", key("adv", advisor_id)) == 1 then return effects() end
local adv = {id = advisor_id, name = ARGV[5], skills = ARGV[6], status = "away", wants = "0",
             idle_since = now, status_since = now, offer = "", session_id = "", missed = 0,
             claimable = "[]", levels = ARGV[7]}
save("adv", adv, "id", "name", "skills", "status", "wants", "idle_since", "status_since",
  "offer", "session_id", "missed", "claimable", "levels")
redis.call("SADD", key("advisors"), advisor_id)
redis.call("HINCRBY", key("counts"), "away", 1)
return effects()
