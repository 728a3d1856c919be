-- KEYS: 1 the stream's hash. ARGV: 1 prefix, 2 stream id, 3 role, 4 sub, 5 resume
-- token, 6 seq, 7 evicted_to, 8 grace (s), 9 now, 10 parked per identity, then the kept
-- frames as "seq<TAB>frame JSON", oldest first. A socket closed: its stream is kept for
-- the grace, where a socket on any node can claim it. No prelude.
local P, sid, role, sub, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local grace, now, most = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local skey, fkey, pkey = P .. "stream:" .. sid, P .. "frames:" .. sid, P .. "parked:" .. role .. ":" .. sub
local size = 0
redis.call("DEL", fkey)
for i = 11, #ARGV do
  redis.call("RPUSH", fkey, ARGV[i])
  size = size + #ARGV[i] - string.find(ARGV[i], "\t", 1, true)
end
redis.call("HSET", skey, "role", role, "sub", sub, "seq", ARGV[6], "evicted_to", ARGV[7], "bytes", size, "token", token)
redis.call("SET", P .. "resume:" .. token, sid, "PX", math.floor(grace * 1000))
redis.call("ZADD", pkey, now, sid)
-- The oldest parked streams of an identity go first past the bound.
while redis.call("ZCARD", pkey) > most do
  local oldest = redis.call("ZRANGE", pkey, 0, 0)[1]
  local old_token = redis.call("HGET", P .. "stream:" .. oldest, "token")
  if old_token then redis.call("DEL", P .. "resume:" .. old_token) end
  redis.call("DEL", P .. "stream:" .. oldest, P .. "frames:" .. oldest)
  redis.call("ZREM", pkey, oldest)
end
for _, k in ipairs({skey, fkey, pkey}) do redis.call("PEXPIRE", k, math.floor(grace * 1000)) end
return 1
