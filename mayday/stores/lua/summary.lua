-- No arguments beyond the prelude's. Read-only.
-- The oldest wait is that of the longest waiting request, not of the next one served:
-- a priority request ahead of it may have come later.
local head = redis.call("ZRANGE", key("queue_since"), 0, 0, "WITHSCORES")
-- The requests once found declined by every online advisor, counted if they still are.
local declined = 0
for _, id in ipairs(redis.call("SMEMBERS", key("declined_all"))) do
  local req = load("req", id)
  if req and WAITING[req.state] and declined_by_all(req) then declined = declined + 1 end
end
return cjson.encode({
  waiting = redis.call("ZCARD", key("queue")),
  oldest_wait_s = #head > 0 and math.floor((now - tonumber(head[2])) * 1000 + 0.5) / 1000 or cjson.null,
  advisors_available = count_status("available"),
  advisors_reserved = count_status("reserved"),
  advisors_busy = count_status("busy"),
  advisors_away = count_status("away"),
  declined_by_all = declined,
})
