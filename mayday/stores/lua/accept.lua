-- ARGV: 4 advisor_id, 5 request_id, 6 session_id
local advisor_id, request_id, session_id = ARGV[4], ARGV[5], ARGV[6]
local req = load("req", request_id)
if not req then refuse("not_found", 'no request "' .. request_id .. '"') end
local adv = load("adv", advisor_id)
if transfer_pending(req) then
  accept_transfer(req, adv, session_id)
  return finish_op()
end
local claim = CLAIM or shown(adv, req)
if claim then
  -- First to claim wins: this whole script is one atomic step, so two claims racing
  -- from two nodes run one after the other and the second finds the request taken.
  if req.state ~= "queued" then
    refuse("invalid_state", 'request "' .. request_id .. '" is ' .. req.state .. ", not waiting")
  end
  if not blank(req.user_dropped_at) then refuse("invalid_state", "the user is reconnecting") end
  if not adv or adv.status ~= "available" then refuse("invalid_state", "go available to claim requests") end
  if not shown(adv, req) and not can_take(adv, req) then refuse("invalid_state", "this request is not one you can take") end
elseif not adv or req.offered_to ~= advisor_id then
  refuse("invalid_state", 'request "' .. request_id .. '" is not offered to you')
end
if redis.call("EXISTS", key("ses", session_id)) == 1 then
  refuse("invalid_state", 'session "' .. session_id .. '" exists')
end
if claim then
  record(req, "claimed", {advisor = adv.id})
  withdraw_claims(req, "claimed", adv.id)
else
  cancel_timer("offer:" .. req.id)
  redis.call("ZREM", key("offers"), req.id)
  record(req, "offer.accepted", {advisor = adv.id, offer_no = tonumber(req.offer_no)})
end
local waited = now - tonumber(req.enqueued_at)
observe("time_to_accept", waited, req.topic)
observe("outcome", waited, req.topic, "answered")
observe("answered_by", 1, "", adv.id)
local ses = {id = session_id, request_id = req.id, user_id = req.user_id, advisor_id = adv.id,
             offerer = cfg.offerer, started_at = now, state = "active", ended_at = ""}
save("ses", ses, "id", "request_id", "user_id", "advisor_id", "offerer", "started_at", "state", "ended_at")
dequeue(req)
req.offered_to, req.session_id = "", ses.id
adv.offer, adv.session_id = "", ses.id
save("req", req, "offered_to", "session_id")
save("adv", adv, "offer", "session_id")
set_request_state(req, "in_session")
set_advisor_status(adv, "busy")
announce_session(ses, req, adv)
return finish_op()
