-- ARGV: 4 role, 5 sub. Read-only: the frames that tell a socket that could not resume
-- where (role, sub) stands (the twin of Router.current_state).
local role, sub = ARGV[4], ARGV[5]

local function started(ses, req, adv, side)
  local peer = {id = req.user_id, name = req.user_name, role = "user"}
  if side == "user" then peer = {id = adv.id, name = adv.name, role = "advisor"} end
  return {type = "session.started", session_id = ses.id, request_id = req.id,
          offerer = ses.offerer, peer = peer, role = side}
end

local function user_state()
  local req = open_request(sub)
  if not req then return end
  if WAITING[req.state] then
    local position = queue_position(req)
    send("user", sub, {type = "help.queued", request_id = req.id, position = position,
      estimated_wait_s = estimate(req, position), state = req.state,
      advisors_available = count_status("available"), match = step_of(req).skills})
  elseif req.session_id ~= "" then
    local ses = load("ses", req.session_id)
    local adv = ses and load("adv", ses.advisor_id)
    if ses and adv then send("user", sub, started(ses, req, adv, "user")) end
    -- A warm transfer pending: where the user is being transferred, said again.
    if ses and adv and transfer_pending(req) and not blank(req.offered_to) then
      send_transferring(req, load("adv", req.offered_to))
    end
  end
end

local function advisor_state()
  local adv = load("adv", sub)
  if not adv then return end
  local presence = adv.wants == "1" and "available" or "away"
  send("advisor", sub, {type = "advisor.state", state = presence, reason = "resync"})
  if adv.session_id ~= "" then
    local ses = load("ses", adv.session_id)
    send("advisor", sub, started(ses, load("req", ses.request_id), adv, "advisor"))
  elseif adv.offer ~= "" then
    local req = load("req", adv.offer)
    local at = tonumber(blank(req.offered_at) and now or req.offered_at)
    local left = cfg.reservation_timeout_s - (now - at)
    send("advisor", sub, offer_frame(req, half_up(math.max(0, left), 3), "offer"))
  end
  local ids = cjson.decode(blank(adv.claimable) and "[]" or adv.claimable)
  table.sort(ids)
  for _, rid in ipairs(ids) do send("advisor", sub, offer_frame(load("req", rid), cjson.null, "claim")) end
end

if role == "user" then user_state() elseif role == "advisor" then advisor_state() end
return effects()
