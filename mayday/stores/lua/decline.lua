-- ARGV: 4 advisor_id, 5 request_id
local advisor_id, request_id = ARGV[4], ARGV[5]
local req = load("req", request_id)
if not req then refuse("not_found", 'no request "' .. request_id .. '"') end
local adv = load("adv", advisor_id)
local claim = CLAIM or shown(adv, req)
if claim then
  if req.state ~= "queued" then
    refuse("invalid_state", 'request "' .. request_id .. '" is ' .. req.state .. ", not waiting")
  end
  if not blank(req.user_dropped_at) then refuse("invalid_state", "the user is reconnecting") end
  if not adv or adv.status ~= "available" then refuse("invalid_state", "go available to claim requests") end
  if not shown(adv, req) and not can_take(adv, req) then refuse("invalid_state", "this request is not one you can take") end
elseif not adv or req.offered_to ~= advisor_id then
  refuse("invalid_state", 'request "' .. request_id .. '" is not offered to you')
end
observe("declined", 1, "", adv.id)
if claim then
  adv.claimable = list_without(adv.claimable, req.id)
  save("adv", adv, "claimable")
  record(req, "claim.declined", {advisor = adv.id})
  cool_down(req, adv)
  -- As after any operation: a cooldown that ended meanwhile shows a request again.
  return finish_op()
end
withdraw_offer(adv, "available", nil, "declined")
-- Not for a warm transfer's offer: that request is in its call, not waiting.
local after = load("req", req.id)
if WAITING[after.state] then cool_down(after, adv) end
return finish_op()
