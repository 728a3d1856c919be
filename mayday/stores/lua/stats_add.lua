-- KEYS: 1 the minute tally hash, 2 the hour tally hash.
-- ARGV: 1 minute keep (s), 2 hour keep (s), then field, increment pairs.
-- Adds every increment to both tallies and renews their expiry. No prelude.
for i = 3, #ARGV, 2 do
  redis.call("HINCRBYFLOAT", KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call("HINCRBYFLOAT", KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call("EXPIRE", KEYS[1], ARGV[1])
redis.call("EXPIRE", KEYS[2], ARGV[2])
return 0
