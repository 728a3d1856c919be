-- KEYS: 1 the caller's notes (HASH request id -> note JSON), 2 the request's timeline
-- (LIST), 3 the note's timeline entry as pushed (STRING). ARGV: 1 the request id, 2 the
-- note JSON, 3 its call's requested_at, 4 the most notes kept, 5 seconds to keep, 6 the
-- note's timeline entry JSON.
-- The write, the trim to the newest calls, the expiry and the timeline entry (in place
-- of the replaced note's) are one step, so two advisors noting the same caller at once
-- cannot leave more than the most kept, nor two entries. The entry goes only onto a
-- timeline still kept (pushing onto an expired one would make a list without expiry).
-- No prelude.
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
local kept = tonumber(ARGV[4])
if redis.call("HLEN", KEYS[1]) > kept then
  local flat = redis.call("HGETALL", KEYS[1])
  local calls = {}
  for i = 1, #flat, 2 do
    local call = cjson.decode(flat[i + 1]).call or {}
    calls[#calls + 1] = {id = flat[i], at = tonumber(call.requested_at) or 0}
  end
  table.sort(calls, function(a, b) return a.at > b.at end)
  for i = kept + 1, #calls do redis.call("HDEL", KEYS[1], calls[i].id) end
end
redis.call("EXPIRE", KEYS[1], math.ceil(tonumber(ARGV[5])))
if redis.call("EXISTS", KEYS[2]) == 1 then
  local replaced = redis.call("GET", KEYS[3])
  if replaced then redis.call("LREM", KEYS[2], 1, replaced) end
  redis.call("RPUSH", KEYS[2], ARGV[6])
  redis.call("SET", KEYS[3], ARGV[6], "EX", math.ceil(tonumber(ARGV[5])))
end
return 1
