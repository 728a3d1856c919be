-- ARGV: 4.. request ids. help.queued for each still waiting whose position or
-- estimate moved since its user last heard.
for i = 4, #ARGV do
  local req = load("req", ARGV[i])
  if req and WAITING[req.state] then notice(req) end
end
return effects()
