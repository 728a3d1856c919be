-- ARGV: 4 limit. Read-only: the online advisors, by id, at most limit, for the ops table.
local ids = redis.call("SMEMBERS", key("advisors"))
table.sort(ids)
local found = {}
for i = 1, math.min(#ids, tonumber(ARGV[4])) do
  local a = redis.call("HMGET", key("adv", ids[i]), "name", "status", "status_since")
  if a[2] then
    found[#found + 1] = {id = ids[i], name = a[1], status = a[2], since = tonumber(a[3])}
  end
end
if #found == 0 then return "[]" end
return cjson.encode(found)
