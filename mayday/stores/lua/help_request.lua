-- ARGV: 4 user_id, 5 user_name, 6 request_id, 7 ask JSON {topic, language},
-- 8 skills JSON (a sorted list), 9 device JSON, 10 priority (the token's claim, an integer)
local user_id, user_name, request_id = ARGV[4], ARGV[5], ARGV[6]
local priority = tonumber(ARGV[10]) or 0
local ask = cjson.decode(ARGV[7])
local current = load("req", redis.call("GET", key("user", user_id)) or "")
if current then
  refuse("invalid_state", 'user already has request "' .. current.id .. '" (' .. current.state .. ")")
end
if redis.call("EXISTS", key("req", request_id)) == 1 then
  refuse("invalid_state", 'request "' .. request_id .. '" exists')
end
local req = {
  id = request_id, user_id = user_id, user_name = user_name, enqueued_at = now, priority = priority,
  topic = ask.topic ~= cjson.null and ask.topic or "",
  language = ask.language ~= cjson.null and ask.language or "",
  skills = ARGV[8], device = ARGV[9],
  state = "queued", offered_to = "", offer_no = 0, declined = "[]", session_id = "", last_notice = "",
  step = 0, cooldowns = "{}", route_at = "",
}
save("req", req, "id", "user_id", "user_name", "enqueued_at", "topic", "language", "skills",
  "device", "state", "offered_to", "offer_no", "declined", "session_id", "last_notice", "priority",
  "step", "cooldowns", "route_at")
enqueue(req)
redis.call("ZADD", key("requests"), now, req.id)
redis.call("ZREMRANGEBYSCORE", key("requests"), "-inf", now - cfg.history_ttl_s)
touch(req.id)
redis.call("SET", key("user", user_id), req.id)
-- The user's latest requests, newest first, for the advisor's view of the caller.
redis.call("LPUSH", key("hist", user_id), req.id)
redis.call("LTRIM", key("hist", user_id), 0, 19)
redis.call("EXPIRE", key("hist", user_id), cfg.history_ttl_s)
local data = {topic = ask.topic ~= cjson.null and ask.topic or nil}
data.skills = cjson.decode(ARGV[8])
if priority ~= 0 then data.priority = priority end  -- as the core: only when not the default
record(req, "requested", data)
out[#out + 1] = {k = "waiting", user_id = user_id, request_id = req.id}
escalate(req)
return finish_op()
