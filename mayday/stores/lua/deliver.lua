-- ARGV: 1 prefix, 2 origin node, 3 role, 4 sub, 5 payload JSON, 6 inbox max length.
-- Appends the frame to the inbox stream of every OTHER node holding a socket of
-- (role, sub); returns how many nodes that was. No prelude.
local P, origin = ARGV[1], ARGV[2]
local sent = 0
for _, node in ipairs(redis.call("HKEYS", P .. "loc:" .. ARGV[3] .. ":" .. ARGV[4])) do
  if node ~= origin then
    redis.call("XADD", P .. "inbox:" .. node, "MAXLEN", "~", ARGV[6], "*", "f", ARGV[5])
    sent = sent + 1
  end
end
return sent
