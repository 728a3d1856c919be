-- ARGV: 1 prefix, 2 node, 3 role, 4 sub, 5 "1" join / "0" leave. No prelude.
local P, node, role, sub = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local loc = P .. "loc:" .. role .. ":" .. sub
if ARGV[5] == "1" then
  redis.call("HSET", loc, node, 1)
  redis.call("SADD", P .. "node:" .. node .. ":clients", role .. "|" .. sub)
else
  redis.call("HDEL", loc, node)
  redis.call("SREM", P .. "node:" .. node .. ":clients", role .. "|" .. sub)
end
return redis.call("HLEN", loc)
