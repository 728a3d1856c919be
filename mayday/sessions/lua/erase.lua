-- KEYS: 1 a key of the routing's slot (the hash tag). ARGV: 1 key prefix, 2 the user id,
-- then the ids of the user's sessions to erase (their data is erased). Deletes each
-- session's audit log and shared screen, and the user's pointer to one of them; returns
-- how many audit entries there were. Key names match mayday/stores/keys.py. No prelude.
local P, user_id = ARGV[1], ARGV[2]
local entries, gone = 0, {}
for i = 3, #ARGV do
  local sid = ARGV[i]
  gone[sid] = true
  entries = entries + redis.call("LLEN", P .. "audit:" .. sid)
  for _, stroke_id in ipairs(redis.call("HKEYS", P .. "strokes:" .. sid)) do
    redis.call("DEL", P .. "pts:" .. sid .. ":" .. stroke_id)
  end
  redis.call("DEL", P .. "audit:" .. sid, P .. "board:" .. sid, P .. "strokes:" .. sid,
    P .. "order:" .. sid, P .. "retired:" .. sid)
end
local of = P .. "board_of:user:" .. user_id
if gone[redis.call("GET", of) or ""] then redis.call("DEL", of) end
return entries
