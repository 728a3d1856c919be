-- KEYS: 1 the queue (the slot of every routing key). ARGV: 1 key prefix, 2 the user id,
-- 3 JSON list of request ids, 4 JSON list of message ids (candidates: each is erased only
-- if it is the user's), 5 the refusal's message.
-- Erases the user's finished requests (hash, timeline, session, rating, note entry, the index of the
-- messages naming them), their messages with the replies, the notes about them and their
-- request and message indexes. The check that no request of theirs is open and the erase
-- are one step, so a request opened meanwhile is either refused or not touched. No prelude.
local P, user_id = ARGV[1], ARGV[2]
local function key(...) return P .. table.concat({...}, ":") end
if redis.call("EXISTS", key("user", user_id)) == 1 then
  return redis.error_reply("invalid_state:" .. ARGV[5])
end
local requests, ratings, sessions = 0, 0, {}
for _, id in ipairs(cjson.decode(ARGV[3])) do
  if redis.call("HGET", key("req", id), "user_id") == user_id then
    local sid = redis.call("HGET", key("req", id), "session_id")
    if sid and sid ~= "" then
      sessions[#sessions + 1] = sid
      redis.call("DEL", key("ses", sid))
    end
    ratings = ratings + redis.call("DEL", key("rating", id))
    redis.call("DEL", key("req", id), key("tl", id), key("msgs", "req", id), key("noted", id))
    redis.call("ZREM", key("requests"), id)
    requests = requests + 1
  else
    -- A rating outlives its request by up to the hour a call may be rated in.
    local rating = redis.call("HGET", key("rating", id), "body")
    if rating and cjson.decode(rating).user_id == user_id then
      ratings = ratings + redis.call("DEL", key("rating", id))
    end
  end
end
local messages = 0
for _, id in ipairs(cjson.decode(ARGV[4])) do
  local body = redis.call("HGET", key("msg", id), "body")
  if body and cjson.decode(body).user_id == user_id then
    redis.call("DEL", key("msg", id))
    redis.call("ZREM", key("msgs", "open"), id)
    redis.call("ZREM", key("msgs", "answered"), id)
    messages = messages + 1
  end
end
local notes = redis.call("HLEN", key("notes", user_id))
redis.call("DEL", key("notes", user_id), key("hist", user_id), key("msgs", "user", user_id),
  key("msgs", "unread", user_id))
return cjson.encode({requests = requests, messages = messages, notes = notes,
  ratings = ratings, session_ids = sessions})
