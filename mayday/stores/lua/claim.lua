-- KEYS: 1 the identity's location hash. ARGV: 1 prefix, 2 node, 3 role, 4 sub, 5 resume
-- token. A socket of (role, sub) on this node resumes the parked stream of the token:
-- the token is used up, the stream leaves Redis (it lives on in the node), and the node
-- is registered in the identity's location in the same step, so that every frame for
-- the identity went either into the stream before, or to this node's inbox after.
-- Returns {} when there is no such stream (or it is someone else's), else
-- {seq, evicted_to, frame, frame, ...}. No prelude.
local P, node, role, sub, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local tkey = P .. "resume:" .. token
local sid = redis.call("GET", tkey)
if not sid then return {} end
local skey, fkey = P .. "stream:" .. sid, P .. "frames:" .. sid
local st = redis.call("HMGET", skey, "role", "sub", "seq", "evicted_to")
if st[1] ~= role or st[2] ~= sub then return {} end  -- a foreign token stays valid for its owner
redis.call("DEL", tkey)
redis.call("ZREM", P .. "parked:" .. role .. ":" .. sub, sid)
redis.call("HSET", KEYS[1], node, 1)
redis.call("SADD", P .. "node:" .. node .. ":clients", role .. "|" .. sub)
local out = {st[3] or "0", st[4] or "0"}
for _, f in ipairs(redis.call("LRANGE", fkey, 0, -1)) do out[#out + 1] = f end
redis.call("DEL", skey, fkey)
return out
