-- No arguments beyond the prelude's. Read-only.
-- The oldest wait is that of the longest waiting request, not of the next one served:
-- a priority request ahead of it may have come later.
local head = redis.call("ZRANGE", key("queue_since"), 0, 0, "WITHSCORES")
return cjson.encode({
  waiting = redis.call("ZCARD", key("queue")),
  oldest_wait_s = #head > 0 and math.floor((now - tonumber(head[2])) * 1000 + 0.5) / 1000 or cjson.null,
  advisors_available = count_status("available"),
  advisors_reserved = count_status("reserved"),
  advisors_busy = count_status("busy"),
  advisors_away = count_status("away"),
})
