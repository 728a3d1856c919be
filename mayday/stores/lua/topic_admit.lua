-- KEYS: 1 the set of admitted topics. ARGV: 1 the topic, 2 the most topics admitted.
-- 1 if the topic is (now) admitted, else 0. The check and the add are one step, so
-- two processes cannot both take the last place. No prelude.
if redis.call("SISMEMBER", KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call("SCARD", KEYS[1]) < tonumber(ARGV[2]) then
  redis.call("SADD", KEYS[1], ARGV[1])
  return 1
end
return 0
