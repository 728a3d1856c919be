-- ARGV: 4 advisor_id, 5 session_id, 6 transfer_id, 7 to advisor ("" for skills),
-- 8 skills JSON (a sorted list, "[]" for an advisor), 9 note ("" for none), 10 mode.
-- The twin of the core's _on_transfer; every refusal first.
local advisor_id, session_id, transfer_id = ARGV[4], ARGV[5], ARGV[6]
local to_advisor, skills, note, mode = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local ses = load("ses", session_id)
if not ses then refuse("not_found", 'no session "' .. session_id .. '"') end
if ses.advisor_id ~= advisor_id then refuse("forbidden", "only the session's advisor may send this") end
if ses.state == "ended" then refuse("invalid_state", "session already ended") end
local req = load("req", ses.request_id)
if transfer_pending(req) then refuse("invalid_state", "a transfer of this session is pending") end
if not blank(req.user_dropped_at) then refuse("invalid_state", "the user is reconnecting") end
local target = nil
if to_advisor == "" then
  if mode == "warm" then refuse("invalid_field", "warm transfer needs an advisor") end
else
  if to_advisor == advisor_id then
    refuse("invalid_field", 'field "to.advisor" must be another advisor, not you')
  end
  target = load("adv", to_advisor)
  if not target or target.status ~= "available" then
    refuse("invalid_state", 'advisor "' .. to_advisor .. '" is not online and free')
  end
end
local adv = load("adv", advisor_id)
local t = {id = transfer_id, by = adv.id, by_name = adv.name, session_id = ses.id, mode = mode,
           skills = cjson.decode(skills)}
if target then t.to_advisor = target.id end
if note ~= "" then t.note = note end
local to = target and {advisor = target.id} or {skills = t.skills}
record(req, "transfer", {transfer_id = t.id, by = adv.id, from = adv.id, to = to, mode = mode, note = t.note})
req.transfer = cjson.encode(t)
req.transferred_at, req.transferred_from = string.format("%.17g", now), ses.id
save("req", req, "transfer", "transferred_at", "transferred_from")
if target and mode == "warm" then
  offer_transfer(req, target)
else
  cold_transfer(req, ses, adv, target, skills)
end
return finish_op()
