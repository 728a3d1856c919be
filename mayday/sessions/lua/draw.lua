-- One annotation: the twin of Drawing.apply (mayday/sessions/drawing.py), same checks in
-- the same order, same messages. ARGV from 8: kind, stroke id, meta JSON (begin, shape),
-- stroke_seq, points (JSON list items without brackets), number of points, then the
-- limits: strokes, points per stroke, points in all, remembered ids.
local kind, id, meta_json = ARGV[8], ARGV[9], ARGV[10]
local seq, frag, n = tonumber(ARGV[11]), ARGV[12], tonumber(ARGV[13])
local max_strokes, max_stroke, max_points, max_retired =
  tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16]), tonumber(ARGV[17])
local PAUSED = "annotation refused: the user paused screen sharing"

live()
if paused() then refuse("invalid_state", PAUSED) end
if kind == "laser" then return 1 end

local total = tonumber(redis.call("HGET", K.board, "points") or "0")

local function check_stroke(count)
  if count > max_stroke then
    refuse("too_large", "a stroke holds at most " .. max_stroke .. " points; end it, begin another")
  end
end
local function check_room(adding)
  if total + adding > max_points then
    refuse("too_large", "the drawing holds at most " .. max_points .. " points; undo or clear first")
  end
end
-- The live stroke, nil after undo or clear (a late retry), a refusal if never drawn.
local function known()
  local raw = redis.call("HGET", K.strokes, id)
  if raw then return cjson.decode(raw) end
  if redis.call("SISMEMBER", K.retired, id) == 0 then
    refuse("not_found", 'no stroke "' .. id .. '" in this drawing')
  end
  return nil
end
local function retire(ids)
  if #ids == 0 then return end
  if redis.call("SCARD", K.retired) + #ids > max_retired then redis.call("DEL", K.retired) end
  for i = 1, #ids, 500 do
    redis.call("SADD", K.retired, unpack(ids, i, math.min(i + 499, #ids)))
  end
end
local function save(stroke) redis.call("HSET", K.strokes, id, cjson.encode(stroke)) end

if kind == "stroke.begin" or kind == "shape" then
  if redis.call("HEXISTS", K.strokes, id) == 1 then return 0 end
  if redis.call("SISMEMBER", K.retired, id) == 1 then
    refuse("invalid_state", 'stroke id "' .. id .. '" was already used and removed')
  end
  if redis.call("HLEN", K.strokes) >= max_strokes then
    refuse("too_large", "the drawing holds " .. max_strokes .. " strokes, its limit; undo or clear first")
  end
  check_stroke(n)
  check_room(n)
  open_board()
  local stroke = cjson.decode(meta_json)
  stroke.seq, stroke.n, stroke.ended = 0, n, kind == "shape"
  save(stroke)
  redis.call("RPUSH", K.order, id)
  redis.call("SET", pts(id), frag, "EX", board_ttl)
  redis.call("HSET", K.board, "points", total + n)
  return 1
end

if kind == "stroke.points" then
  local stroke = known()
  if not stroke then return 0 end
  if stroke.ended then refuse("invalid_state", 'stroke "' .. id .. '" has ended') end
  if seq <= stroke.seq then return 0 end
  if seq ~= stroke.seq + 1 then
    refuse("invalid_state", 'stroke "' .. id .. '" expects stroke_seq ' .. (stroke.seq + 1) .. ", not " .. seq)
  end
  check_stroke(stroke.n + n)
  check_room(n)
  open_board()
  stroke.seq, stroke.n = seq, stroke.n + n
  save(stroke)
  if redis.call("STRLEN", pts(id)) > 0 then frag = "," .. frag end
  redis.call("APPEND", pts(id), frag)
  redis.call("EXPIRE", pts(id), board_ttl)
  redis.call("HSET", K.board, "points", total + n)
  return 1
end

if kind == "stroke.end" then
  local stroke = known()
  if not stroke or stroke.ended then return 0 end
  open_board()
  stroke.ended = true
  save(stroke)
  return 1
end

if kind == "undo" then
  local stroke = known()
  if not stroke then return 0 end
  open_board()
  redis.call("HDEL", K.strokes, id)
  redis.call("LREM", K.order, 1, id)
  redis.call("DEL", pts(id))
  redis.call("HSET", K.board, "points", total - stroke.n)
  retire({id})
  return 1
end

if kind == "clear" then
  local ids = redis.call("LRANGE", K.order, 0, -1)
  if #ids == 0 then return 0 end
  open_board()
  for _, old in ipairs(ids) do redis.call("DEL", pts(old)) end
  redis.call("DEL", K.strokes, K.order)
  redis.call("HSET", K.board, "points", 0)
  retire(ids)
  return 1
end

refuse("invalid_field", 'field "kind" is not known to the store')
