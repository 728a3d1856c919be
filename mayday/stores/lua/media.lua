-- ARGV: 4 role, 5 sub, 6 session_id, 7 state, 8 detail
local ses, side = session_of_peer(ARGV[6], ARGV[4], ARGV[5])
local req = load("req", ses.request_id)
if req then
  -- At most cfg.media_kept reports on a request's timeline: a client that reports
  -- fifty times a second must not grow it without bound (the core does the same).
  local media_n = redis.call("HINCRBY", key("req", req.id), "media_n", 1)
  forget("req", req.id)
  if media_n <= cfg.media_kept then
    record(req, "media." .. ARGV[7], {side = side, detail = ARGV[8] ~= "" and ARGV[8] or nil})
  end
  -- Time-to-advisor: help pressed to the advisor's first frame on the tablet, once.
  if ARGV[7] == "first_frame" and side == "user" and (req.first_frame_at or "") == "" then
    req.first_frame_at = now
    save("req", req, "first_frame_at")
    observe("time_to_advisor", now - tonumber(req.enqueued_at), req.topic)
  end
  -- The transferred leg's time-to-advisor: from the transfer to the first frame of the
  -- session that follows it, once.
  if ARGV[7] == "first_frame" and side == "user" and not blank(req.transferred_at)
      and ses.id ~= req.transferred_from then
    observe("transfer_to_advisor", now - tonumber(req.transferred_at), req.topic)
    req.transferred_at = ""
    save("req", req, "transferred_at")
  end
end
return finish_op()
