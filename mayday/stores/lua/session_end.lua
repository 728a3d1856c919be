-- ARGV: 4 role, 5 sub, 6 session_id, 7 reason
local ses, side = session_of_peer(ARGV[6], ARGV[4], ARGV[5])
if ses.state == "ended" then refuse("invalid_state", "session already ended") end
end_session(ses, ARGV[7], side)
return finish_op()
