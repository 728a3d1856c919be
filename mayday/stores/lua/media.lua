-- ARGV: 4 role, 5 sub, 6 session_id, 7 state, 8 detail
local ses, side = session_of_peer(ARGV[6], ARGV[4], ARGV[5])
local req = load("req", ses.request_id)
if req then
  record(req, "media." .. ARGV[7], {side = side, detail = ARGV[8] ~= "" and ARGV[8] or nil})
end
return finish_op()
