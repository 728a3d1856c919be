-- ARGV: 1 prefix, 2 node, 3 role, 4 sub. This node now holds a socket of (role, sub).
-- (A node's last socket closing is part of disconnected.lua, atomic with the routing.)
-- No prelude.
local P, node, role, sub = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local loc = P .. "loc:" .. role .. ":" .. sub
redis.call("HSET", loc, node, 1)
redis.call("SADD", P .. "node:" .. node .. ":clients", role .. "|" .. sub)
return redis.call("HLEN", loc)
