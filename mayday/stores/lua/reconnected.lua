-- ARGV: 4 role, 5 sub, 6 "1" if the socket resumed a dropped one. A socket of the
-- identity opened: if it had dropped, it is back (ignored otherwise).
local role, sub, resumed = ARGV[4], ARGV[5], ARGV[6] == "1"
if role == "user" then user_returned(sub, resumed) elseif role == "advisor" then advisor_returned(sub, resumed) end
return finish_op()
