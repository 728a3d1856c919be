-- KEYS: 1 the hash of the last batch each node delivered ("relayed"), then the location
-- hash of each frame's (role, sub), in order.
-- ARGV: 1 prefix, 2 origin node, 3 inbox max length, 4 flags (one digit a parcel: 1 if
-- a parked stream keeps it (a frame, not a note nor a laser move), plus 2 if it goes to
-- the origin's own inbox too: a socket there is claiming a stream), 5 stream keep
-- (frames), 6 stream keep (bytes), 7 the batch's number (one node numbers its batches
-- in order), then each parcel's JSON
-- ({"role":..,"sub":..,"frame":{...}} or {"role":..,"sub":..,"note":{...}}).
-- A batch sent again (its answer was lost with the connection) is not delivered twice:
-- its first answer is returned.
-- Appends each parcel to the inbox stream of every OTHER node holding a socket of its
-- (role, sub), parcels in order, and each kept frame to every parked stream of that
-- identity (numbered there: a socket that resumes it gets them); returns, per parcel,
-- twice how many nodes and parked streams took it, plus 1 if the origin's own inbox
-- was among them. No prelude.
local P, origin, max, flags = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local keep_frames, keep_bytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local batch = tonumber(ARGV[7])
local done = redis.call("HGET", KEYS[1], origin)
if done then
  local tab = string.find(done, "\t", 1, true)
  if tonumber(string.sub(done, 1, tab - 1)) >= batch then
    return cjson.decode(string.sub(done, tab + 1))
  end
end

local function append(pkey, sid, frame)
  local skey, fkey = P .. "stream:" .. sid, P .. "frames:" .. sid
  if redis.call("EXISTS", skey) == 0 then  -- expired, listed by a set parked again since
    redis.call("ZREM", pkey, sid)
    return 0
  end
  local seq = redis.call("HINCRBY", skey, "seq", 1)
  redis.call("RPUSH", fkey, seq .. "\t" .. frame)
  local size = redis.call("HINCRBY", skey, "bytes", #frame)
  while redis.call("LLEN", fkey) > keep_frames or size > keep_bytes do
    local old = redis.call("LPOP", fkey)
    if not old then break end
    local tab = string.find(old, "\t", 1, true)
    redis.call("HSET", skey, "evicted_to", string.sub(old, 1, tab - 1))
    size = redis.call("HINCRBY", skey, "bytes", -(#old - tab))
  end
  return 1
end

local function flag(i) return tonumber(string.sub(flags, i, i)) end

local function parked(i, payload)
  if flag(i) % 2 ~= 1 then return 0 end
  -- The identity's parked set is named like its location ("loc:role:sub"): no decoding.
  local pkey = P .. "parked:" .. string.sub(KEYS[i + 1], #P + 5)
  local ids = redis.call("ZRANGE", pkey, 0, -1)
  if #ids == 0 then return 0 end
  -- The node writes {"role":..,"sub":..,"frame":FRAME}: the frame is what follows.
  local at = string.find(payload, ',"frame":', 1, true)
  local frame = string.sub(payload, at + 9, -2)
  local took = 0
  for _, sid in ipairs(ids) do took = took + append(pkey, sid, frame) end
  return took
end

local counts = {}
for i = 1, #KEYS - 1 do
  local payload = ARGV[7 + i]
  local sent, looped, loopback = 0, 0, flag(i) >= 2
  for _, node in ipairs(redis.call("HKEYS", KEYS[i + 1])) do
    if node ~= origin or loopback then
      redis.call("XADD", P .. "inbox:" .. node, "MAXLEN", "~", max, "*", "f", payload)
      sent = sent + 1
      if node == origin then looped = 1 end
    end
  end
  counts[i] = 2 * (sent + parked(i, payload)) + looped
end
redis.call("HSET", KEYS[1], origin, batch .. "\t" .. cjson.encode(counts))
return counts
