-- The whole board in one read: {control, paused, strokes = {{id, meta JSON, points}, ...}}.
local out = {control = "off", paused = false, strokes = {}}
local state = redis.call("HMGET", K.board, "control", "paused")
if state[1] then out.control, out.paused = state[1], state[2] == "1" end
for _, id in ipairs(redis.call("LRANGE", K.order, 0, -1)) do
  local meta = redis.call("HGET", K.strokes, id)
  if meta then out.strokes[#out.strokes + 1] = {id, meta, redis.call("GET", pts(id)) or ""} end
end
return cjson.encode(out)
