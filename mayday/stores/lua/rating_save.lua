-- KEYS: 1 the request's rating (HASH body, entry), 2 the request's timeline (LIST).
-- ARGV: 1 the rating JSON, 2 its timeline entry JSON, 3 seconds to keep the rating.
-- The rating, its timeline entry and the removal of the entry of the rating it replaces
-- are one step, so two ratings sent at once leave one rating and one entry. The entry
-- goes only onto a timeline still kept: pushing onto an expired one would make a list
-- without expiry. No prelude.
local timeline_kept = redis.call("EXISTS", KEYS[2]) == 1
local replaced = redis.call("HGET", KEYS[1], "entry")
if replaced and timeline_kept then redis.call("LREM", KEYS[2], 1, replaced) end
if timeline_kept then redis.call("RPUSH", KEYS[2], ARGV[2]) end
redis.call("HSET", KEYS[1], "body", ARGV[1], "entry", ARGV[2])
redis.call("EXPIRE", KEYS[1], math.ceil(tonumber(ARGV[3])))
return 1
