-- KEYS: 1 the message (HASH), 2 the open messages (ZSET), 3 the user's open messages (SET),
-- 4 the messages of the request it names (SET; untouched when it names none).
-- ARGV: 1 message id, 2 message JSON, 3 left_at, 4 the most open messages a user may have,
-- 5 the request id it names, or "".
-- The count and the write are one step, so two sockets of one user cannot pass the bound.
-- No prelude. A message saved again (a retry, or one the server made with the id of its
-- request) is already there: nothing changes, nothing is refused.
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
if redis.call("SCARD", KEYS[3]) >= tonumber(ARGV[4]) then
  return redis.error_reply("rate_limited:at most " .. ARGV[4] .. " messages may wait for a reply")
end
redis.call("HSET", KEYS[1], "body", ARGV[2])
redis.call("ZADD", KEYS[2], ARGV[3], ARGV[1])
redis.call("SADD", KEYS[3], ARGV[1])
if ARGV[5] ~= "" then redis.call("SADD", KEYS[4], ARGV[1]) end
return 1
