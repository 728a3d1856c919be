-- KEYS: 1 the message (HASH), 2 open messages (ZSET), 3 answered messages (ZSET),
-- 4 the user's open messages (SET), 5 the user's unread replies (ZSET).
-- ARGV: 1 message id, 2 reply JSON. Returns the message JSON as left.
-- Two advisors replying at once, on any nodes: HSETNX lets exactly one reply in, and the
-- moves between the sets happen with it or not at all. No prelude.
local body = redis.call("HGET", KEYS[1], "body")
if not body then return redis.error_reply('not_found:no message "' .. ARGV[1] .. '"') end
if redis.call("HSETNX", KEYS[1], "reply", ARGV[2]) == 0 then
  return redis.error_reply('invalid_state:message "' .. ARGV[1] .. '" is already answered')
end
local left_at = redis.call("ZSCORE", KEYS[2], ARGV[1]) or cjson.decode(body).left_at
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("ZADD", KEYS[3], left_at, ARGV[1])
redis.call("SREM", KEYS[4], ARGV[1])
redis.call("ZADD", KEYS[5], left_at, ARGV[1])
return body
