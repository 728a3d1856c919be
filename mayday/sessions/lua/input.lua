-- One advisor input: accepted only while control is granted and sharing is not paused;
-- audited either way, in the same step. ARGV from 8: the accepted entry (JSON), the
-- refused entry without its end (the reason and "}" are added here).
local accepted, refused_head = ARGV[8], ARGV[9]
live()
open_board()
local reason = nil
if paused() then
  reason = "input refused: the user paused screen sharing"
else
  local state = redis.call("HGET", K.board, "control") or "off"
  if state ~= "granted" then reason = 'input refused: control is "' .. state .. '", not granted' end
end
if reason then
  audit(refused_head .. cjson.encode(reason) .. "}")
  return reason
end
audit(accepted)
return ""
