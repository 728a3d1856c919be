-- ARGV: 4 heartbeat deadline. Claims ONE node whose last heartbeat is older
-- (ZREM decides which reaper wins), forgets its sockets, and disconnects every
-- identity it leaves without a socket anywhere, all in one atomic step, so a
-- reaper dying half-way cannot strand anyone.
local dead = redis.call("ZRANGEBYSCORE", key("nodes"), "-inf", ARGV[4], "LIMIT", 0, 1)
for _, node in ipairs(dead) do
  redis.call("ZREM", key("nodes"), node)
  for _, who in ipairs(redis.call("SMEMBERS", key("node", node, "clients"))) do
    local role, sub = string.match(who, "^([^|]+)|(.*)$")
    redis.call("HDEL", key("loc", role, sub), node)
    if redis.call("HLEN", key("loc", role, sub)) == 0 then disconnect(role, sub) end
  end
  redis.call("DEL", key("node", node, "clients"), key("inbox", node))
  redis.call("HDEL", key("relayed"), node)
  out[#out + 1] = {k = "reaped", node = node}
end
return finish_op()
