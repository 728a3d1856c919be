-- ARGV: 4 role, 5 sub. Only when no node holds a socket of (role, sub) any more:
-- the identity may already have reconnected to another node.
local role, sub = ARGV[4], ARGV[5]
if redis.call("HLEN", key("loc", role, sub)) == 0 then disconnect(role, sub) end
return finish_op()
