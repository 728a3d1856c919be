-- ARGV: 4 limit. Read-only: the online advisors for a transfer dialog, at most limit: the
-- free ones first (the free set, longest idle first), then the others, by id. Bounded by
-- limit, not by how many are online: the online set is scanned only until the page is full.
local limit = tonumber(ARGV[4])
local function row(id)
  local a = redis.call("HMGET", key("adv", id), "name", "status", "status_since", "idle_since", "skills")
  if not a[2] then return nil end
  return {id = id, name = a[1], status = a[2], since = tonumber(a[3]) or 0, idle = tonumber(a[4]) or 0,
          skills = a[5] or "[]"}
end
local found = {}
for _, id in ipairs(redis.call("ZRANGE", key("free"), 0, limit - 1)) do
  local r = row(id)
  if r then found[#found + 1] = r end
end
local others, cursor = {}, "0"
repeat
  local page = redis.call("SSCAN", key("advisors"), cursor, "COUNT", 100)
  cursor = page[1]
  for _, id in ipairs(page[2]) do
    if #found + #others < limit and not redis.call("ZSCORE", key("free"), id) then
      local r = row(id)
      if r then others[#others + 1] = r end
    end
  end
until cursor == "0" or #found + #others >= limit
table.sort(others, function(a, b) return a.id < b.id end)
for _, r in ipairs(others) do found[#found + 1] = r end
if #found == 0 then return "[]" end
return cjson.encode(found)
