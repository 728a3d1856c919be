-- One consent action, checked and changed atomically. The transition table is
-- mayday/sessions/control.py's, passed in. ARGV from 8: sources (comma list), target,
-- repeats (comma list), refusal message, "1" if it needs sharing, the paused message,
-- the audit entry (JSON, "from" filled in here). Returns "old,new".
local sources, target, repeats = ARGV[8], ARGV[9], ARGV[10]
local refusal, needs_sharing, paused_message, entry = ARGV[11], ARGV[12], ARGV[13], ARGV[14]

local function member(list, item) return string.find("," .. list .. ",", "," .. item .. ",", 1, true) ~= nil end

local current = redis.call("HGET", K.board, "control") or "off"
live()
if member(repeats, current) then return current .. "," .. current end
if not member(sources, current) then refuse("invalid_state", refusal) end
if needs_sharing == "1" and paused() then refuse("invalid_state", paused_message) end
open_board()
redis.call("HSET", K.board, "control", target)
audit(entry .. cjson.encode(current) .. "}")
return current .. "," .. target
