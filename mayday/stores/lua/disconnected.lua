-- ARGV: 4 role, 5 sub, 6 node ("" with one process). The node's last socket of
-- (role, sub) closed: its entry in the identity's location goes first, in the same
-- script, so no node can die between the two. The routing hears of it (a drop) only
-- when no node holds a socket of (role, sub) any more: the identity may already have
-- reconnected to another node.
local role, sub, node = ARGV[4], ARGV[5], ARGV[6]
if node ~= "" then
  redis.call("HDEL", key("loc", role, sub), node)
  redis.call("SREM", key("node", node, "clients"), role .. "|" .. sub)
end
if redis.call("HLEN", key("loc", role, sub)) == 0 then disconnect(role, sub) end
return finish_op()
