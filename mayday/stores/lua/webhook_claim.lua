-- KEYS: 1 the due set (delivery id -> next attempt time). ARGV: 1 now, 2 the lease's end,
-- 3 the most to claim, 4 the prefix of the delivery keys. The due deliveries' JSON, each
-- now due again at the lease's end: a node that dies mid-post leaves them to the next
-- claim (at least once). One step, so two nodes never lease the same delivery at once.
-- No prelude.
local due = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(due) do
  local body = redis.call("GET", ARGV[4] .. id)
  if body then
    redis.call("ZADD", KEYS[1], ARGV[2], id)
    out[#out + 1] = body
  else
    redis.call("ZREM", KEYS[1], id)  -- its record is gone (erased): nothing to send
  end
end
return out
