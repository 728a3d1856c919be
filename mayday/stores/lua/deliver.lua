-- KEYS: the location hash of each frame's (role, sub), in order.
-- ARGV: 1 prefix, 2 origin node, 3 inbox max length, then each frame's payload JSON.
-- Appends each frame to the inbox stream of every OTHER node holding a socket of its
-- (role, sub), frames in order; returns, per frame, how many nodes that was. No prelude.
local P, origin, max = ARGV[1], ARGV[2], ARGV[3]
local counts = {}
for i = 1, #KEYS do
  local payload = ARGV[3 + i]
  local sent = 0
  for _, node in ipairs(redis.call("HKEYS", KEYS[i])) do
    if node ~= origin then
      redis.call("XADD", P .. "inbox:" .. node, "MAXLEN", "~", max, "*", "f", payload)
      sent = sent + 1
    end
  end
  counts[i] = sent
end
return counts
