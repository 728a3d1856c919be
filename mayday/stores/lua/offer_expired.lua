-- ARGV: 4 request_id, 5 offer_no. A timer that fires after its offer was answered changes nothing.
local req = load("req", ARGV[4])
if not req or tonumber(req.offer_no) ~= tonumber(ARGV[5]) then return effects() end
if req.state ~= "offered" and not transfer_pending(req) then return effects() end
local adv = load("adv", req.offered_to)
if not adv then return effects() end
adv.missed, adv.wants = tonumber(adv.missed) + 1, "0"
save("adv", adv, "missed", "wants")
observe("missed_offer", 1, "", adv.id)
withdraw_offer(adv, "away", "timeout", "timed_out", false)
send("advisor", adv.id, {type = "advisor.state", state = "away", reason = "offer_timeout"})
return finish_op()
