-- KEYS: 1 the stream's hash. ARGV: 1 prefix, 2 stream id, 3 role, 4 sub, 5 resume
-- token, 6 seq, 7 evicted_to, 8 grace (s), 9 now, 10 parked per identity, 11 the parking
-- node, 12 the last entry of its inbox it had handed to its sockets when it took the
-- stream's snapshot, 13 keep (frames), 14 keep (bytes), then the kept frames as
-- "seq<TAB>frame JSON", oldest first. A socket closed: its stream is kept for the grace,
-- where a socket on any node can claim it. Frames for the identity already in the
-- node's inbox after that entry (on their way to the socket, which will not number them
-- now) are numbered into the stream here, after the snapshot and before anything
-- deliver.lua appends from now on: nothing is lost or reordered in the handover. No
-- prelude.
local P, sid, role, sub, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local grace, now, most = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local skey, fkey, pkey = P .. "stream:" .. sid, P .. "frames:" .. sid, P .. "parked:" .. role .. ":" .. sub
local size = 0
redis.call("DEL", fkey)
for i = 15, #ARGV do
  redis.call("RPUSH", fkey, ARGV[i])
  size = size + #ARGV[i] - string.find(ARGV[i], "\t", 1, true)
end
local seq, evicted_to = tonumber(ARGV[6]), ARGV[7]
local keep_frames, keep_bytes = tonumber(ARGV[13]), tonumber(ARGV[14])
if ARGV[11] ~= "" then
  for _, entry in ipairs(redis.call("XRANGE", P .. "inbox:" .. ARGV[11], "(" .. ARGV[12], "+")) do
    local payload = entry[2][2]
    local item = cjson.decode(payload)
    if item.role == role and item.sub == sub and type(item.frame) == "table" and not item.frame._volatile then
      local at = string.find(payload, ',"frame":', 1, true)
      local frame = string.sub(payload, at + 9, -2)
      seq = seq + 1
      redis.call("RPUSH", fkey, seq .. "\t" .. frame)
      size = size + #frame
      while redis.call("LLEN", fkey) > keep_frames or size > keep_bytes do
        local old = redis.call("LPOP", fkey)
        local tab = string.find(old, "\t", 1, true)
        evicted_to = string.sub(old, 1, tab - 1)
        size = size - (#old - tab)
      end
    end
  end
end
redis.call("HSET", skey, "role", role, "sub", sub, "seq", seq, "evicted_to", evicted_to, "bytes", size, "token", token)
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
