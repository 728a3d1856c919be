-- Shared by every session-state script: the Redis twin of mayday/sessions/store.py.
-- ARGV[1] key prefix (hash-tagged), ARGV[2] session id, ARGV[3] now (seconds, as sent),
-- ARGV[4] board TTL (s), ARGV[5] audit TTL (s), ARGV[6] user id, ARGV[7] advisor id;
-- the operation's own arguments follow from ARGV[8]. Key names match
-- mayday/stores/keys.py. Refusals raise {err = "code:message"} BEFORE anything is
-- written: Redis does not roll a script back.

local P, sid = ARGV[1], ARGV[2]
local board_ttl, audit_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local user_id, advisor_id = ARGV[6], ARGV[7]

local K = {
  board = P .. "board:" .. sid,
  strokes = P .. "strokes:" .. sid,
  order = P .. "order:" .. sid,
  retired = P .. "retired:" .. sid,
  audit = P .. "audit:" .. sid,
}
local function pts(stroke_id) return P .. "pts:" .. sid .. ":" .. stroke_id end
local function refuse(code, message) error({err = code .. ":" .. message}) end

-- The board, created with its peer index on first use; every write keeps it a day longer.
local function open_board()
  if redis.call("EXISTS", K.board) == 0 then
    redis.call("HSET", K.board, "control", "off", "paused", "0", "points", "0")
    redis.call("SET", P .. "board_of:user:" .. user_id, sid, "EX", board_ttl)
    redis.call("SET", P .. "board_of:advisor:" .. advisor_id, sid, "EX", board_ttl)
  end
  for _, k in ipairs({K.board, K.strokes, K.order, K.retired}) do
    redis.call("EXPIRE", k, board_ttl)
  end
end

local function paused() return redis.call("HGET", K.board, "paused") == "1" end

-- The routing's own session hash (mayday/stores/keys.py, session()): the handler may hold
-- a cached copy of the session, so whether it is still live is decided here, atomically
-- with the change.
local function live()
  local state = redis.call("HGET", P .. "ses:" .. sid, "state")
  if not state then refuse("not_found", 'no session "' .. sid .. '"') end
  if state ~= "active" then refuse("invalid_state", "session has ended") end
end

local function audit(entry)
  redis.call("RPUSH", K.audit, entry)
  redis.call("EXPIRE", K.audit, audit_ttl)
end
