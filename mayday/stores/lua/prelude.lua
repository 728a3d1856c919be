-- Shared by every routing script: the Redis twin of mayday/routing/core.py.
-- ARGV[1] key prefix (hash-tagged, e.g. "{mayday}:"), ARGV[2] now (seconds),
-- ARGV[3] config JSON; the operation's own arguments follow from ARGV[4].
-- Every key lives under the one hash tag, so a script's keys share a slot on
-- Redis Cluster; KEYS[1] (the queue) names that slot.
-- Refusals raise {err = "code:message"} BEFORE anything is written: Redis does
-- not roll a script back, so every check comes first.
-- KEYS[2], when given, is the operation's own key ("op:ID", one per call): its effects
-- are kept there OP_KEEP_S seconds, and a call sent again with the same key (redis-py
-- retries a command whose answer a dropped connection or a failover lost) gets them
-- back instead of running twice: an accept run twice would be refused the second
-- time while its first session stood, and nobody would be told.

local P = ARGV[1]
local now = tonumber(ARGV[2])
local cfg = cjson.decode(ARGV[3])
local OP, OP_KEEP_S = KEYS[2], 15
if OP then
  local done = redis.call("GET", OP)
  if done then return done end
end
local out = {}
-- Requests whose own state changed in this operation: their users hear at once.
local touched, touched_set = {}, {}
-- What may have made a new (free advisor, waiting request) pair in this operation:
-- dispatch() looks only from those (see dispatch).
local fresh_adv, fresh_req = {}, {}
local index_waiting  -- below, with the queue

local function key(...) return P .. table.concat({...}, ":") end
local function refuse(code, message) error({err = code .. ":" .. message}) end
local function send(role, sub, msg) out[#out + 1] = {k = "send", role = role, sub = sub, m = msg} end
local function observe(metric, value, topic, label)
  out[#out + 1] = {k = "observe", metric = metric, value = value, topic = topic or "", label = label or ""}
end
local flush_free  -- below, with the advisor indices
local function effects()
  flush_free()
  local encoded = cjson.encode(out)
  if OP then redis.call("SET", OP, encoded, "EX", OP_KEEP_S) end
  return encoded
end
local function start_timer(name, delay, event)
  out[#out + 1] = {k = "timer", key = name, delay_s = delay, event = event}
end
local function cancel_timer(name) out[#out + 1] = {k = "cancel", key = name} end
-- A field never written (a record older than the field) reads as blank.
local function blank(v) return v == nil or v == "" end

local WAITING = {queued = true, offered = true}
local FINAL = {ended = true, cancelled = true, abandoned = true, expired = true, message = true}

-- ------------------------------------------------------------ records
-- A record is read whole once per script: later loads copy what this script knows of it
-- (every write to a record goes through save(), which keeps the copy in step, or
-- forget()), so a reload costs a table copy, not an HGETALL of some 30 fields.
local known = {}

local function copy(rec)
  local c = {}
  for f, v in pairs(rec) do c[f] = v end
  return c
end

local function load(kind, id)
  if not id or id == "" then return nil end
  local k = key(kind, id)
  local rec = known[k]
  if rec == nil then
    local flat = redis.call("HGETALL", k)
    if #flat == 0 then return nil end
    rec = {}
    for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
    known[k] = rec
  end
  return copy(rec)
end

-- The record's hash changed other than through save(): read it again on the next load.
local function forget(kind, id) known[key(kind, id)] = nil end

local function save(kind, rec, ...)
  local fields = {...}
  local args = {}
  local k = key(kind, rec.id)
  local cached = known[k]
  for _, f in ipairs(fields) do
    local v = rec[f] == nil and "" or tostring(rec[f])
    args[#args + 1] = f
    args[#args + 1] = v
    if cached then cached[f] = v end
  end
  redis.call("HSET", k, unpack(args))
end

local function record(req, event, data, at)
  redis.call("RPUSH", key("tl", req.id), cjson.encode({at or now, event, data or {}}))
end

local function touch(id)
  if not touched_set[id] then
    touched_set[id] = true
    touched[#touched + 1] = id
  end
end

-- The request's state as of at (now unless given: a user who dropped abandoned then).
local function set_request_state(req, state, at)
  local t = at or now
  if WAITING[req.state] and not WAITING[state] then
    out[#out + 1] = {k = "waiting", user_id = req.user_id, request_id = cjson.null}
  end
  req.state = state
  save("req", req, "state")
  index_waiting(req)
  if FINAL[state] then
    record(req, state, nil, t)
    if state ~= "ended" then
      out[#out + 1] = {k = "closed", request_id = req.id, user_id = req.user_id, outcome = state}
    end
  end
  if WAITING[state] then touch(req.id) end
  if state == "cancelled" or state == "abandoned" or state == "expired" or state == "message" then
    observe("outcome", t - tonumber(req.enqueued_at), req.topic, state)
  end
end

-- ------------------------------------------------------------ advisor indices
-- So that no routing call walks every advisor (docs/deploy.md, "O(n) hazards"): an
-- advisor's skills are fixed from their first frame until they go offline, so each
-- free advisor is also in key("fs", skill) per skill they hold (scored by idle time, as
-- key("free")), each online one in key("os", skill), and key("fit") counts the online
-- advisors per skill and per pair of skills at each level: field "skill|L" or
-- "a|b|L" (a < b) counts those whose level is at least L in each. estimate() and the
-- escalation's skip read those counters; take_free() walks one skill's free set.

-- {skill: level} of the skills adv holds (a level not given is cfg.implied_level).
local function levels_of(adv)
  local given = cjson.decode(blank(adv.levels) and "{}" or adv.levels)
  local out_levels, names = {}, {}
  for _, skill in ipairs(cjson.decode(blank(adv.skills) and "[]" or adv.skills)) do
    if not out_levels[skill] then names[#names + 1] = skill end
    out_levels[skill] = tonumber(given[skill]) or cfg.implied_level
  end
  table.sort(names)
  return out_levels, names
end

local function fit_field(skills, lvl) return table.concat(skills, "|") .. "|" .. lvl end

-- Count adv in (by = 1) or out of (by = -1) the online indices.
local function index_online(adv, by)
  local lv, names = levels_of(adv)
  local h = key("fit")
  for i, a in ipairs(names) do
    if by > 0 then redis.call("SADD", key("os", a), adv.id) else redis.call("SREM", key("os", a), adv.id) end
    for l = 1, lv[a] do redis.call("HINCRBY", h, fit_field({a}, l), by) end
    for j = i + 1, #names do
      local b = names[j]
      for l = 1, math.min(lv[a], lv[b]) do redis.call("HINCRBY", h, fit_field({a, b}, l), by) end
    end
  end
end

-- In or out of key("fs", skill) for each skill and key("fs", "a|b") for each pair (a < b):
-- a request needing two skills walks only those who hold both (at most 21 sets for an
-- advisor with 6 skills).
local function index_free(adv, free)
  local _, names = levels_of(adv)
  local idle = tonumber(adv.idle_since)
  local function put(name)
    if free then redis.call("ZADD", key("fs", name), idle, adv.id) else redis.call("ZREM", key("fs", name), adv.id) end
  end
  for i, a in ipairs(names) do
    put(a)
    for j = i + 1, #names do put(a .. "|" .. names[j]) end
  end
end

-- The fs sets are written once, at the end of the script (flush_free, from effects()):
-- an advisor freed and offered in the same script (a session's end, a decline) costs no
-- write of their 21 sets. Until then pending[id] = {adv, free, idle, was (in the sets at
-- the start)} is what is true, and first_free() and free_takers() read it beside the sets.
-- key("free") itself is always written at once.
local pending, pending_ids = {}, {}

local function defer_free(adv, free, was_free)
  local p = pending[adv.id]
  if not p then
    p = {was = was_free}
    pending[adv.id], pending_ids[#pending_ids + 1] = p, adv.id
  end
  p.adv, p.free, p.idle = copy(adv), free, tonumber(adv.idle_since)
end

function flush_free()
  for _, id in ipairs(pending_ids) do
    local p = pending[id]
    if p.free or p.was then index_free(p.adv, p.free) end
  end
  pending, pending_ids = {}, {}
end

-- Whether adv belongs in key("fs", name): they hold its skill, or both of its pair.
local function in_free_set(adv, name)
  local held = levels_of(adv)
  for part in string.gmatch(name, "[^|]+") do
    if not held[part] then return false end
  end
  return true
end

local function set_advisor_status(adv, status)
  local was_free = redis.call("HGET", key("adv", adv.id), "status") == "available"
  if adv.status ~= status and (adv.status == "away" or status == "away") then
    index_online(adv, status == "away" and -1 or 1)
  end
  if adv.status ~= status then
    redis.call("HINCRBY", key("counts"), adv.status, -1)
    redis.call("HINCRBY", key("counts"), status, 1)
    observe("advisor_time", now - tonumber(adv.status_since), "", adv.status)
    adv.status_since = now
    save("adv", adv, "status_since")
  end
  adv.status = status
  save("adv", adv, "status")
  if status ~= "available" and adv.claimable ~= "[]" then
    adv.claimable = "[]"
    save("adv", adv, "claimable")
  end
  if status == "available" then fresh_adv[#fresh_adv + 1] = adv.id end
  -- In the free sets iff the status stored is available (from Redis, not adv: another
  -- copy of this record may have moved it): from busy to reserved and back there are
  -- 22 sets of which it is in none, so nothing to remove.
  if status == "available" or was_free then
    if status == "available" then
      redis.call("ZADD", key("free"), tonumber(adv.idle_since), adv.id)
    else
      redis.call("ZREM", key("free"), adv.id)
    end
    defer_free(adv, status == "available", was_free)
  end
end

local function set_of(json_list)
  local s = {}
  for _, v in ipairs(cjson.decode(json_list ~= "" and json_list or "[]")) do s[v] = true end
  return s
end

-- ------------------------------------------------------------ matching
-- The twin of model.py's Advisor.fits / Request.hidden_from / Advisor.can_take.
local STEPS = cfg.escalation

local function step_of(req) return STEPS[(tonumber(req.step) or 0) + 1] end

local function level(adv, skill, skills)
  if not skills[skill] then return 0 end
  local levels = cjson.decode(blank(adv.levels) and "{}" or adv.levels)
  return tonumber(levels[skill]) or cfg.implied_level
end

-- Whether adv has what step asks of the request's skills (declines aside).
local function fits(adv, req, step)
  local needs = cjson.decode(req.skills ~= "" and req.skills or "[]")
  if step.skills == "none" or #needs == 0 then return true end
  local skills = set_of(adv.skills)
  for _, need in ipairs(needs) do
    local good = level(adv, need, skills) >= step.min_level
    if step.skills == "all" and not good then return false end
    if step.skills == "any" and good then return true end
  end
  return step.skills == "all"
end

-- Decline cooldowns: {advisor id: "until"} (%.17g strings: exact, as the core's floats).
local function cooldowns(req) return cjson.decode(blank(req.cooldowns) and "{}" or req.cooldowns) end

local function hidden_from(req, advisor_id, cools)
  -- Most requests were never declined: no JSON to decode (the index walks call this).
  if not cools and (blank(req.declined) or req.declined == "[]")
    and (blank(req.cooldowns) or req.cooldowns == "{}") then
    return false
  end
  if set_of(req.declined)[advisor_id] then return true end
  local untill = (cools or cooldowns(req))[advisor_id]
  return untill ~= nil and tonumber(untill) > now
end

local function can_take(adv, req)
  return fits(adv, req, step_of(req)) and not hidden_from(req, adv.id)
end

local function user_ref(req) return {id = req.user_id, name = req.user_name} end

-- ------------------------------------------------------------ the queue
-- The twin of the core's _order_key. key("queue") is scored by the enqueue time moved
-- ahead cfg.priority_step_s per level of priority, and Redis sorts equal scores by
-- member: so the member is the request's arrival number, zero-padded to a fixed width,
-- then its id ("000000000000042|req_..."). Among equal scores byte order is then arrival
-- order, FIFO like the core's seq, whatever the ids. Folding the arrival number into the
-- score instead would cost exactness: an epoch time in seconds already takes 31 of a
-- double's 53 bits, and a sub-millisecond clock most of the rest. The score is computed
-- from the exact time, as the core does, and kept on the request with %.17g (exact; a
-- hash field written with tostring keeps 14 digits), so that both stores see the same
-- order and a request back in line takes its very place again.
-- key("queue_since") holds the same requests by enqueue time, for their time-to-live and
-- the oldest wait, which the queue's score no longer tells.

-- A member of the queue is "number|id"; one queued before the numbers is the bare id.
local function queue_id(member) return string.match(member, "^%d+|(.*)$") or member end

local function queue_member(req) return blank(req.queue_member) and req.id or req.queue_member end

-- In line: at its place by score (a request back from a lost session keeps its score and
-- its member; a new one's enqueued_at is still the exact number).
local function enqueue(req)
  if blank(req.queue_member) then
    local score = tonumber(req.enqueued_at) - (tonumber(req.priority) or 0) * cfg.priority_step_s
    req.queue_score = string.format("%.17g", score)
    req.queue_member = string.format("%015d|%s", redis.call("INCR", key("queue_seq")), req.id)
    save("req", req, "queue_score", "queue_member")
  end
  redis.call("ZADD", key("queue"), req.queue_score, req.queue_member)
  redis.call("ZADD", key("queue_since"), req.enqueued_at, req.id)
  index_waiting(req)
end

-- ------------------------------------------------------------ the waiting index
-- Queued requests that may be offered now (queued, their user here) are also in
-- key("wq", ...) by what the step in force asks, with their queue score and member:
-- "none" (no skills, or a "none" step); "all", L, "a|b" (their one or two skills, sorted,
-- each at level L at least); "all3", L (three skills or more, walked); "any", L, skill
-- (once per skill). An advisor who becomes free reads the heads of the few keys their
-- skills satisfy instead of walking the queue. The keys a request is in are kept on it
-- (field wq), so that leaving is exact.
local function needs_of(req)
  local needs, seen = {}, {}
  for _, need in ipairs(cjson.decode(blank(req.skills) and "[]" or req.skills)) do
    if not seen[need] then needs[#needs + 1], seen[need] = need, true end
  end
  table.sort(needs)
  return needs
end

local function wait_keys(req)
  if req.state ~= "queued" or not blank(req.user_dropped_at) or blank(req.queue_member) then return {} end
  local needs, step = needs_of(req), STEPS[(tonumber(req.step) or 0) + 1]
  if #needs == 0 or step.skills == "none" then return {key("wq", "none")} end
  if step.skills == "any" then
    local keys = {}
    for _, need in ipairs(needs) do keys[#keys + 1] = key("wq", "any", step.min_level, need) end
    return keys
  end
  if #needs <= 2 then return {key("wq", "all", step.min_level, table.concat(needs, "|"))} end
  return {key("wq", "all3", step.min_level)}
end

-- Keep req's place in the waiting index in step with its state, user and step.
function index_waiting(req)
  -- From Redis, not req: another copy of this record may have moved it meanwhile.
  local stored = redis.call("HGET", key("req", req.id), "wq")
  local was, is = (not stored or stored == "") and "[]" or stored, wait_keys(req)
  local now_keys = #is == 0 and "[]" or cjson.encode(is)
  if was == now_keys then return end
  local member = req.queue_member
  for _, k in ipairs(cjson.decode(was)) do redis.call("ZREM", k, member) end
  for _, k in ipairs(is) do redis.call("ZADD", k, req.queue_score, member) end
  req.wq = now_keys
  save("req", req, "wq")
  if #is > 0 then fresh_req[#fresh_req + 1] = req.id end
end

-- The request's one routing timer is off (the twin of the core's _stop_route).
local function stop_route(req)
  if not blank(req.route_at) then
    req.route_at = ""
    save("req", req, "route_at")
    redis.call("ZREM", key("route_due"), req.id)
    cancel_timer("route:" .. req.id)
  end
end

local function dequeue(req)
  redis.call("ZREM", key("queue"), queue_member(req))
  redis.call("ZREM", key("queue_since"), req.id)
  stop_route(req)
  redis.call("SREM", key("declined_all"), req.id)
end

-- 1 is next: the request's rank in the order of service.
local function queue_position(req) return redis.call("ZRANK", key("queue"), queue_member(req)) + 1 end

-- ------------------------------------------------------------ transfers (records)
-- The twin of the core's Transfer: the request's latest transfer, as JSON in its hash;
-- pending while its mode is warm (its target holds the request's offer).
local function transfer_of(req)
  if blank(req.transfer) then return nil end
  return cjson.decode(req.transfer)
end

local function transfer_pending(req)
  local t = transfer_of(req)
  return t ~= nil and t.mode == "warm"
end

local function transfer_offered(req)
  local t = transfer_of(req)
  if not t then return nil end
  return {transfer_id = t.id, from = {id = t.by, name = t.by_name}, note = t.note or cjson.null}
end

-- The warm transfer's offer is gone: its advisor keeps the user, and is told.
local function transfer_failed(req, reason)
  local t = transfer_of(req)
  req.transfer, req.transferred_at = "", ""
  save("req", req, "transfer", "transferred_at")
  record(req, "transfer.failed", {transfer_id = t.id, reason = reason})
  local failed = {type = "transfer.failed", transfer_id = t.id, session_id = t.session_id, reason = reason}
  send("advisor", t.by, failed)
  send("user", req.user_id, failed)
end

-- Why a warm transfer failed, from how its offer was taken back.
local function transfer_failure(outcome, reason)
  if outcome == "declined" then return "declined" end
  if outcome == "timed_out" then return "timeout" end
  return reason or "advisor_dropped"
end

local function offer_frame(req, expires, mode)
  return {
    type = "help.offer", request_id = req.id, expires_in_s = expires, user = user_ref(req),
    topic = req.topic ~= "" and req.topic or cjson.null,
    language = req.language ~= "" and req.language or cjson.null,
    skills = cjson.decode(req.skills), device = cjson.decode(req.device),
    waited_s = math.floor((now - tonumber(req.enqueued_at)) * 1000 + 0.5) / 1000,
    mode = mode, transfer = transfer_offered(req),
  }
end

local CLAIM = cfg.routing_mode == "claim"

local function list_without(json_list, item)
  local kept = {}
  for _, v in ipairs(cjson.decode(json_list ~= "" and json_list or "[]")) do
    if v ~= item then kept[#kept + 1] = v end
  end
  return #kept == 0 and "[]" or cjson.encode(kept)
end

-- Claim mode: adv is shown each of reqs, appended to their list in that order. The
-- reverse index key("shown", request id) names the advisors whose list may hold it, so
-- that taking it back reads those, not every advisor.
local function show_to(adv, reqs)
  if #reqs == 0 then return end
  local list = cjson.decode(blank(adv.claimable) and "[]" or adv.claimable)
  for _, req in ipairs(reqs) do
    list[#list + 1] = req.id
    redis.call("SADD", key("shown", req.id), adv.id)
    send("advisor", adv.id, offer_frame(req, cjson.null, "claim"))
  end
  adv.claimable = cjson.encode(list)
  save("adv", adv, "claimable")
end

local function withdraw_claims(req, reason, keep)
  local ids = redis.call("SMEMBERS", key("shown", req.id))
  redis.call("DEL", key("shown", req.id))
  table.sort(ids)
  for _, id in ipairs(ids) do
    local adv = load("adv", id)
    if adv and set_of(adv.claimable)[req.id] then
      adv.claimable = list_without(adv.claimable, req.id)
      save("adv", adv, "claimable")
      if id ~= keep then
        send("advisor", id, {type = "help.withdrawn", request_id = req.id, reason = reason})
      end
    end
  end
end

-- ------------------------------------------------------------ offers
local function is_declined_all(req) return redis.call("SISMEMBER", key("declined_all"), req.id) == 1 end

local function offer(req, adv)
  if is_declined_all(req) then
    -- No longer declined by all: those shown it to take are told it is offered.
    redis.call("SREM", key("declined_all"), req.id)
    withdraw_claims(req, "offered")
  end
  req.offer_no = tonumber(req.offer_no) + 1
  req.offered_to, adv.offer, req.offered_at = adv.id, req.id, now
  save("req", req, "offer_no", "offered_to", "offered_at")
  save("adv", adv, "offer")
  set_request_state(req, "offered")
  set_advisor_status(adv, "reserved")
  record(req, "offered", {advisor = adv.id, offer_no = req.offer_no})
  local timeout = cfg.reservation_timeout_s
  redis.call("ZADD", key("offers"), now + timeout, req.id)
  start_timer("offer:" .. req.id, timeout,
    {e = "offer_expired", request_id = req.id, offer_no = req.offer_no})
  send("advisor", adv.id, offer_frame(req, timeout, "offer"))
end

-- Take back the offer adv holds: the request waits again at its old place.
local function withdraw_offer(adv, then_status, reason, outcome, with_timer)
  local req = load("req", adv.offer)
  if not req then return end
  if with_timer ~= false then cancel_timer("offer:" .. req.id) end
  redis.call("ZREM", key("offers"), req.id)
  record(req, "offer." .. (outcome or "withdrawn"), {advisor = adv.id, offer_no = tonumber(req.offer_no)})
  req.offered_to, adv.offer = "", ""
  save("req", req, "offered_to")
  save("adv", adv, "offer")
  if req.state == "offered" then set_request_state(req, "queued") end
  if reason then send("advisor", adv.id, {type = "help.withdrawn", request_id = req.id, reason = reason}) end
  set_advisor_status(adv, then_status)
  if transfer_pending(req) then transfer_failed(req, transfer_failure(outcome or "withdrawn", reason)) end
end

-- The user dropped or the call is ending: a pending warm transfer's offer is taken back
-- from its target (help.withdrawn), and the transfer fails.
local function cancel_transfer(req, reason)
  if not transfer_pending(req) or blank(req.offered_to) then return end
  local target = load("adv", req.offered_to)
  withdraw_offer(target, target.wants == "1" and "available" or "away", reason)
end

local function finish(req)
  if redis.call("GET", key("user", req.user_id)) == req.id then
    redis.call("DEL", key("user", req.user_id))
  end
  redis.call("EXPIRE", key("req", req.id), cfg.history_ttl_s)
  redis.call("EXPIRE", key("tl", req.id), cfg.history_ttl_s)
end

local function leave_queue(req, state, withdraw_reason, at)
  if req.offered_to ~= "" then
    local adv = load("adv", req.offered_to)
    local back = adv.wants == "1" and "available" or "away"
    withdraw_offer(adv, back, withdraw_reason)
  end
  if CLAIM or is_declined_all(req) then withdraw_claims(req, withdraw_reason) end
  dequeue(req)
  set_request_state(req, state, at)
  finish(req)
end

-- ------------------------------------------------------------ sessions
-- The session is over: its advisor is free again (unless they dropped), both peers
-- are told, and every node forgets it.
local function close_session(ses, reason, by)
  local req = load("req", ses.request_id)
  if req then cancel_transfer(req, "session_ended") end
  ses.state, ses.ended_at = "ended", now
  save("ses", ses, "state", "ended_at")
  redis.call("EXPIRE", key("ses", ses.id), cfg.history_ttl_s)
  redis.call("LPUSH", key("handle_times"), now - tonumber(ses.started_at))
  redis.call("LTRIM", key("handle_times"), 0, 49)
  local adv = load("adv", ses.advisor_id)
  if adv and adv.session_id == ses.id then
    adv.session_id, adv.idle_since = "", now
    save("adv", adv, "session_id", "idle_since")
    if not blank(adv.dropped_at) then
      set_advisor_status(adv, "away")
    else
      local back = adv.wants == "1" and "available" or "away"
      set_advisor_status(adv, back)
      send("advisor", adv.id, {type = "advisor.state", state = back, reason = "session_ended"})
    end
  end
  local ended = {type = "session.ended", session_id = ses.id, request_id = ses.request_id, reason = reason, by = by}
  send("user", ses.user_id, ended)
  send("advisor", ses.advisor_id, ended)
  out[#out + 1] = {k = "session_over", session_id = ses.id, user_id = ses.user_id, advisor_id = ses.advisor_id}
end

local function end_session(ses, reason, by)
  local req = load("req", ses.request_id)
  record(req, "session.ended", {reason = reason, by = by})
  set_request_state(req, "ended")
  finish(req)
  close_session(ses, reason, by)
end

local function side_of(ses, role, sub)
  if role == "user" and sub == ses.user_id then return "user" end
  if role == "advisor" and sub == ses.advisor_id then return "advisor" end
  return nil
end

local function session_of_peer(session_id, role, sub)
  local ses = load("ses", session_id)
  if not ses then refuse("not_found", 'no session "' .. session_id .. '"') end
  local side = side_of(ses, role, sub)
  if not side then refuse("forbidden", "you are not a peer of this session") end
  return ses, side
end

-- ------------------------------------------------------------ routing
-- The first advisor (in idle order) of the free set zkey who can take req, with their
-- idle time, walking it a page at a time. Only advisors who fit but have req hidden
-- (its decliners) or, for "any", who lack the level are walked past: O(those).
-- The fields of an advisor that can_take() reads: the record is read whole only for the
-- one who takes it.
local function peek_adv(id)
  local v = redis.call("HMGET", key("adv", id), "id", "skills", "levels", "status")
  if not v[1] then return nil end
  return {id = v[1], skills = v[2] or "", levels = v[3] or "", status = v[4] or ""}
end

-- The first advisor (in idle order) of a free set who can take req, with their idle
-- time: key("free") when name is nil, else key("fs", name) as it stands with the writes
-- still pending (an advisor pending is judged from pending, not from the set).
local function first_pending(name, req)
  local best, best_at = nil, nil
  for _, id in ipairs(pending_ids) do
    local p = pending[id]
    if p.free and in_free_set(p.adv, name) and can_take(p.adv, req)
      and (best == nil or p.idle < best_at or (p.idle == best_at and id < best)) then
      best, best_at = id, p.idle
    end
  end
  return best, best_at
end

local function first_free(name, req)
  local zkey = name and key("fs", name) or key("free")
  local best, best_at = nil, nil
  if name then best, best_at = first_pending(name, req) end
  local start, page = 0, 50
  while true do
    local flat = redis.call("ZRANGE", zkey, start, start + page - 1, "WITHSCORES")
    for i = 1, #flat, 2 do
      local id, at = flat[i], tonumber(flat[i + 1])
      if best ~= nil and (at > best_at or (at == best_at and id > best)) then
        return load("adv", best), best_at
      end
      if not (name and pending[id]) and can_take(peek_adv(id), req) then
        return load("adv", id), at
      end
    end
    if #flat < 2 * page then break end
    start = start + page
  end
  if best ~= nil then return load("adv", best), best_at end
  return nil
end

-- The free set that holds every advisor who has all of needs (sorted): the pair's for
-- one or two skills, else the smallest of the skills' sets.
local function all_set(needs)
  if #needs <= 2 then return table.concat(needs, "|") end
  local best, size = nil, nil
  for _, need in ipairs(needs) do
    local n = redis.call("ZCARD", key("fs", need))
    if size == nil or n < size then best, size = need, n end
  end
  return best
end

-- The longest-idle free advisor who can take req (the core's _take_free): key("free")
-- without skills or at a "none" step; for "all", the smallest free set of its skills
-- (every fit is in it); for "any", the best head of each skill's free set.
local function take_free(req)
  local needs = needs_of(req)
  local match = step_of(req).skills
  if #needs == 0 or match == "none" then return (first_free(nil, req)) end
  if match == "all" then return (first_free(all_set(needs), req)) end
  local found, found_at = nil, nil
  for _, need in ipairs(needs) do
    local adv, at = first_free(need, req)
    if adv and (found == nil or at < found_at or (at == found_at and adv.id < found.id)) then
      found, found_at = adv, at
    end
  end
  return found
end

-- ------------------------------------------------------------ dispatch
-- The core's _dispatch offers each waiting request, in queue order, to the longest-idle
-- free advisor who can take it; so after every operation no free advisor can take a
-- waiting request. A new such pair needs an advisor who became free (fresh_adv) or a
-- request that became offerable or wider (fresh_req: queued, back, escalated, a
-- cooldown over). dispatch() therefore looks only from those: the first request in
-- queue order that a fresh advisor can take (from the heads of their index keys) or a
-- fresh request, offered to take_free()'s advisor, until none is left. Same offers,
-- same order as the core, without walking the queue or the free advisors.

-- Distinct min_level of the steps that match skills ("all" or "any").
local LEVELS = {all = {}, any = {}}
do
  local seen = {}
  for _, st in ipairs(STEPS) do
    local k = st.skills .. st.min_level
    if st.skills ~= "none" and not seen[k] then
      seen[k] = true
      local list = LEVELS[st.skills]
      list[#list + 1] = st.min_level
    end
  end
end

local function offerable(req)
  return req ~= nil and req.state == "queued" and blank(req.user_dropped_at) and not blank(req.queue_member)
end

local function queue_before(a, b)
  local sa, sb = tonumber(a.queue_score), tonumber(b.queue_score)
  return sa < sb or (sa == sb and a.queue_member < b.queue_member)
end

-- The index keys adv's skills satisfy: "none", each set of one or two of their skills
-- at each "all" level they meet, "all3", each of their skills at each "any" level.
local function keys_for(adv)
  local lv, names = levels_of(adv)
  local keys = {{key("wq", "none"), false}}
  for _, l in ipairs(LEVELS.all) do
    for i, a in ipairs(names) do
      if lv[a] >= l then
        keys[#keys + 1] = {key("wq", "all", l, a), false}
        for j = i + 1, #names do
          if lv[names[j]] >= l then keys[#keys + 1] = {key("wq", "all", l, a .. "|" .. names[j]), false} end
        end
      end
    end
    keys[#keys + 1] = {key("wq", "all3", l), true}
  end
  for _, l in ipairs(LEVELS.any) do
    for _, a in ipairs(names) do
      if lv[a] >= l then keys[#keys + 1] = {key("wq", "any", l, a), false} end
    end
  end
  return keys
end

-- Walk the index key k in queue order, calling each(req) for every request adv can
-- take there, until it returns true. Walked past: requests hidden from adv (declined)
-- and, in "all3", those needing a skill they lack.
-- The fields of a request that the walk reads: a whole record is some 40 fields.
local PEEK = {"id", "state", "user_dropped_at", "queue_member", "queue_score", "declined",
              "cooldowns", "skills", "step"}
local function peek(id)
  local values = redis.call("HMGET", key("req", id), unpack(PEEK))
  if not values[1] then return nil end
  local rec = {}
  for i, f in ipairs(PEEK) do rec[f] = values[i] or "" end
  return rec
end

local function walk_key(k, check_fit, adv, each)
  -- Usually the head will do: a short first page, longer ones past decliners.
  local start, page = 0, 4
  while true do
    local members = redis.call("ZRANGE", k, start, start + page - 1)
    for _, member in ipairs(members) do
      local req = peek(queue_id(member))
      if offerable(req) and not hidden_from(req, adv.id)
        and (not check_fit or fits(adv, req, step_of(req))) then
        if each(req) then return end
      end
    end
    if #members < page then return end
    start, page = start + page, math.min(page * 4, 256)
  end
end

-- One index key read in queue order a page at a time, from its head: a page of one
-- first (the head usually is the answer), longer ones past those adv cannot take.
local function cursor(k, check_fit)
  return {key = k, check_fit = check_fit, page = {}, at = 1, start = 0, size = 1, done = false}
end

-- The cursor's current (score, member), reading its next page if need be; nil at its end.
local function cursor_head(c)
  if c.at > #c.page then
    if c.done then return nil end
    local flat = redis.call("ZRANGE", c.key, c.start, c.start + c.size - 1, "WITHSCORES")
    c.page, c.at = {}, 1
    for i = 1, #flat, 2 do c.page[#c.page + 1] = {tonumber(flat[i + 1]), flat[i]} end
    c.done = #flat < 2 * c.size
    c.start, c.size = c.start + c.size, math.min(c.size * 4, 256)
    if #c.page == 0 then return nil end
  end
  return c.page[c.at]
end

-- The first request in queue order that adv can take, or nil: the heads of adv's index
-- keys merged by (score, member), which is queue order (each key is scored and ordered
-- as key("queue")). Only the requests ahead of the answer are read, not each key's
-- first fit: the same request as the least of those, at one record read, not one a key.
local function first_for(adv)
  local heads = {}
  for _, kf in ipairs(keys_for(adv)) do
    local c = cursor(kf[1], kf[2])
    if cursor_head(c) then heads[#heads + 1] = c end
  end
  while #heads > 0 do
    local bi, b = 1, cursor_head(heads[1])
    for i = 2, #heads do
      local h = cursor_head(heads[i])
      if h[1] < b[1] or (h[1] == b[1] and h[2] < b[2]) then bi, b = i, h end
    end
    local c = heads[bi]
    local req = peek(queue_id(b[2]))
    if offerable(req) and not hidden_from(req, adv.id)
      and (not c.check_fit or fits(adv, req, step_of(req))) then
      return req
    end
    c.at = c.at + 1
    if not cursor_head(c) then table.remove(heads, bi) end
  end
  return nil
end

local function unique(ids)
  local seen, out_ids = {}, {}
  for _, id in ipairs(ids) do
    if not seen[id] then seen[id], out_ids[#out_ids + 1] = true, id end
  end
  return out_ids
end

-- Cooldowns that ended since: their requests may be offered again (key("cools"),
-- "request id\nadvisor id" -> until, written by cool_down).
local function cooldowns_ended()
  local ended = redis.call("ZRANGEBYSCORE", key("cools"), "-inf", now)
  if #ended == 0 then return end
  redis.call("ZREMRANGEBYSCORE", key("cools"), "-inf", now)
  for _, m in ipairs(ended) do fresh_req[#fresh_req + 1] = string.match(m, "^(.*)\n") end
end

local announce_fresh  -- claim mode, below

local function dispatch()
  cooldowns_ended()
  if redis.call("ZCARD", key("free")) == 0 then return end
  if CLAIM then return announce_fresh() end
  local reqs = {}
  for _, id in ipairs(unique(fresh_req)) do
    local req = load("req", id)
    if offerable(req) then reqs[#reqs + 1] = req end
  end
  table.sort(reqs, queue_before)
  local advs, ri = unique(fresh_adv), 1
  while redis.call("ZCARD", key("free")) > 0 do
    local best = nil
    for _, id in ipairs(advs) do
      local adv = peek_adv(id)  -- first_for reads its id, skills and levels
      if adv and adv.status == "available" then
        local r = first_for(adv)
        if r and (best == nil or queue_before(r, best)) then best = r end
      end
    end
    local head = nil
    while reqs[ri] do
      head = load("req", reqs[ri].id)
      if offerable(head) then break end
      head, ri = nil, ri + 1
    end
    local from_fresh = head ~= nil and (best == nil or queue_before(head, best))
    if from_fresh then best, ri = head, ri + 1 end
    if best == nil then return end
    if not from_fresh then best = load("req", best.id) end  -- a peek: the whole record now
    local adv = take_free(best)
    if adv then
      offer(best, adv)
    elseif not from_fresh then
      return  -- cannot happen: the fresh advisor who found it can take it
    end
  end
end

-- Every free advisor who can take req, from the smallest free set that holds them all.
local function free_takers(req)
  local needs, match = needs_of(req), step_of(req).skills
  local names = {}  -- of fs sets; false: key("free")
  if #needs == 0 or match == "none" then
    names = {false}
  elseif match == "all" then
    names = {all_set(needs)}
  else
    for _, need in ipairs(needs) do names[#names + 1] = need end
  end
  local found, seen = {}, {}
  local function consider(id)
    if seen[id] then return end
    seen[id] = true
    local adv = load("adv", id)
    if can_take(adv, req) then found[#found + 1] = adv end
  end
  for _, name in ipairs(names) do
    for _, id in ipairs(redis.call("ZRANGE", name and key("fs", name) or key("free"), 0, -1)) do
      if not (name and pending[id]) then consider(id) end
    end
    if name then
      for _, id in ipairs(pending_ids) do
        if pending[id].free and in_free_set(pending[id].adv, name) then consider(id) end
      end
    end
  end
  return found
end

-- Claim mode (the core's _announce_claims): every free advisor is shown each waiting
-- request they can take. New pairs come only from fresh advisors (each request of
-- their index keys) and fresh requests (each free advisor who can take it): O(what is
-- shown, and the decliners walked past). Sent as the core does: advisors longest idle
-- first, each one's requests in queue order.
function announce_fresh()
  local by_adv, advs = {}, {}
  local function add(adv, req)
    local entry = by_adv[adv.id]
    if not entry then
      entry = {adv = adv, shown = set_of(adv.claimable), reqs = {},
               idle = tonumber(redis.call("ZSCORE", key("free"), adv.id))}
      by_adv[adv.id], advs[#advs + 1] = entry, entry
    end
    if not entry.shown[req.id] then
      entry.shown[req.id] = true
      entry.reqs[#entry.reqs + 1] = req
    end
  end
  for _, id in ipairs(unique(fresh_adv)) do
    local adv = load("adv", id)
    if adv and adv.status == "available" then
      for _, kf in ipairs(keys_for(adv)) do
        walk_key(kf[1], kf[2], adv, function(req) add(adv, req) return false end)
      end
    end
  end
  for _, id in ipairs(unique(fresh_req)) do
    local req = load("req", id)
    if offerable(req) then
      for _, adv in ipairs(free_takers(req)) do add(by_adv[adv.id] and by_adv[adv.id].adv or adv, req) end
    end
  end
  table.sort(advs, function(a, b) return a.idle < b.idle or (a.idle == b.idle and a.adv.id < b.adv.id) end)
  for _, entry in ipairs(advs) do
    table.sort(entry.reqs, queue_before)
    local whole = {}
    for i, req in ipairs(entry.reqs) do whole[i] = load("req", req.id) end  -- peeks, some
    show_to(entry.adv, whole)
  end
end

local function count_status(status)
  return tonumber(redis.call("HGET", key("counts"), status) or "0")
end

local function mean_handle()
  local times = redis.call("LRANGE", key("handle_times"), 0, -1)
  if #times == 0 then return cfg.default_handle_time_s end
  local sum = 0
  for _, t in ipairs(times) do sum = sum + tonumber(t) end
  return sum / #times
end

local function half_up(value, digits)
  local scale = 10 ^ digits
  return math.floor(value * scale + 0.5) / scale
end

local function fit_count(skills, lvl)
  return tonumber(redis.call("HGET", key("fit"), fit_field(skills, lvl)) or "0")
end

-- Online advisors who fit step for req's skills (declines aside), from key("fit"):
-- O(1) for a request needing one or two skills. Three or more: the online advisors
-- holding its rarest skill ("all") or any of them ("any") are walked.
local function fitting_online(req, step)
  local online = redis.call("SCARD", key("advisors")) - count_status("away")
  local needs, seen = {}, {}
  for _, need in ipairs(cjson.decode(blank(req.skills) and "[]" or req.skills)) do
    if not seen[need] then needs[#needs + 1], seen[need] = need, true end
  end
  if #needs == 0 or step.skills == "none" then return online end
  table.sort(needs)
  local l = step.min_level
  if #needs == 1 then return fit_count(needs, l) end
  if #needs == 2 then
    local both = fit_count(needs, l)
    if step.skills == "all" then return both end
    return fit_count({needs[1]}, l) + fit_count({needs[2]}, l) - both
  end
  local ids
  if step.skills == "all" then
    local rarest, size = nil, nil
    for _, need in ipairs(needs) do
      local n = redis.call("SCARD", key("os", need))
      if size == nil or n < size then rarest, size = need, n end
    end
    ids = redis.call("SMEMBERS", key("os", rarest))
  else
    local sets = {}
    for _, need in ipairs(needs) do sets[#sets + 1] = key("os", need) end
    ids = redis.call("SUNION", unpack(sets))
  end
  local n = 0
  for _, id in ipairs(ids) do
    if fits(load("adv", id), req, step) then n = n + 1 end
  end
  return n
end

local function estimate(req, position)
  if req.state == "offered" then return 0 end
  -- A decline's cooldown ends: the decliners still count (the core's _estimate); those
  -- it may never be offered to again do not: O(them).
  local online = fitting_online(req, step_of(req))
  for id in pairs(set_of(req.declined)) do
    local adv = load("adv", id)
    if adv and adv.status ~= "away" and fits(adv, req, step_of(req)) then online = online - 1 end
  end
  if online == 0 then return cjson.null end
  local rounds = math.max(1, position - count_status("reserved"))
  return half_up(rounds * mean_handle() / online, 1)
end

-- Tell the user where their request stands, if that changed since they last heard.
local function notice(req)
  local position = queue_position(req)
  local est = estimate(req, position)
  local match = step_of(req).skills
  local text = position .. "|" .. req.state .. "|" .. tostring(est) .. "|" .. match
  if text == req.last_notice then return end
  req.last_notice = text
  save("req", req, "last_notice")
  send("user", req.user_id, {
    type = "help.queued", request_id = req.id, position = position,
    estimated_wait_s = est, state = req.state, advisors_available = count_status("available"),
    match = match,
  })
end

-- ------------------------------------------------------------ escalation and cooldowns
-- The twin of the core's _time_route: one timer per waiting request, at its next step or
-- its first cooldown's end; key("route_due") holds the same times so that any node fires
-- them (a dead node's timers too). Ended cooldowns are forgotten.
local function time_route(req)
  local step = tonumber(req.step) or 0
  local at = nil
  local skilled = req.skills ~= "[]" and req.skills ~= ""
  if skilled and step + 1 < #STEPS then at = tonumber(req.enqueued_at) + STEPS[step + 2].after_s end
  local cools, kept, changed = cooldowns(req), {}, false
  for id, untill in pairs(cools) do
    if tonumber(untill) <= now then
      changed = true
    else
      kept[id] = untill
      if at == nil or tonumber(untill) < at then at = tonumber(untill) end
    end
  end
  if changed then
    req.cooldowns = next(kept) == nil and "{}" or cjson.encode(kept)
    save("req", req, "cooldowns")
  end
  if at == tonumber(req.route_at) then return end
  if at == nil then return stop_route(req) end
  req.route_at = string.format("%.17g", at)
  save("req", req, "route_at")
  redis.call("ZADD", key("route_due"), req.route_at, req.id)
  start_timer("route:" .. req.id, math.max(0, at - now), {e = "route_due", request_id = req.id})
end

local function online_count()
  return redis.call("SCARD", key("advisors")) - count_status("away")
end

-- Whether some online advisor fits step (declines aside); with nobody online, yes.
local function anyone_fits(req, step)
  if online_count() == 0 or req.skills == "[]" or req.skills == "" or step.skills == "none" then
    return true
  end
  return fitting_online(req, step) > 0
end

-- On to the step the request's age has reached, then past each step no online advisor
-- fits (TaskRouter's skip_if), and time its next look.
local function escalate(req)
  -- A request without skills fits everyone at every step: it has none to widen.
  if req.skills == "[]" or req.skills == "" then return time_route(req) end
  local step, reason = tonumber(req.step) or 0, "age"
  local age = now - tonumber(req.enqueued_at)
  while step + 1 < #STEPS and age >= STEPS[step + 2].after_s do step = step + 1 end
  while step + 1 < #STEPS and not anyone_fits(req, STEPS[step + 1]) do
    step, reason = step + 1, "skipped"
  end
  if step ~= (tonumber(req.step) or 0) then
    req.step = step
    save("req", req, "step")
    index_waiting(req)
    local s = STEPS[step + 1]
    record(req, "escalated", {step = step, match = s.skills, min_level = s.min_level, reason = reason})
    touch(req.id)
  end
  time_route(req)
end

-- Every online advisor has it hidden by a decline: O(its decliners), not O(team).
local function declined_by_all(req)
  local cools, excluded = cooldowns(req), set_of(req.declined)
  local cooling, shut = 0, 0
  for id, untill in pairs(cools) do
    if not excluded[id] and tonumber(untill) > now then
      local status = redis.call("HGET", key("adv", id), "status")
      if status and status ~= "away" then cooling = cooling + 1 end
    end
  end
  for id in pairs(excluded) do
    local status = redis.call("HGET", key("adv", id), "status")
    if status and status ~= "away" then shut = shut + 1 end
  end
  return cooling > 0 and cooling + shut >= online_count()
end

-- Offer mode: every online advisor declined it, so the free ones among them are shown it
-- as a request they can still take (the twin of the core's _show).
local function show(req)
  if req.state ~= "queued" or not blank(req.user_dropped_at) then return end
  local cools, excluded, ids = cooldowns(req), set_of(req.declined), {}
  for id in pairs(cools) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do
    local adv = load("adv", id)
    if adv and adv.status == "available" and not excluded[id] and fits(adv, req, step_of(req)) then
      show_to(adv, {req})
    end
  end
end

-- Offer mode: a request everyone declined is shown to them to take.
local function shown(adv, req) return adv ~= nil and set_of(adv.claimable)[req.id] == true end

-- A decline hides the request from its advisor for cfg.decline_cooldown_s, not for good.
local function cool_down(req, adv)
  local cools = cooldowns(req)
  cools[adv.id] = string.format("%.17g", now + cfg.decline_cooldown_s)
  redis.call("ZADD", key("cools"), cools[adv.id], req.id .. "\n" .. adv.id)
  req.cooldowns = cjson.encode(cools)
  save("req", req, "cooldowns")
  if redis.call("SISMEMBER", key("declined_all"), req.id) == 0 and declined_by_all(req) then
    redis.call("SADD", key("declined_all"), req.id)
    local n = 0
    for _ in pairs(cools) do n = n + 1 end
    record(req, "declined_by_all", {advisors = n})
    if not CLAIM then show(req) end
  end
  time_route(req)
end

-- ------------------------------------------------------------ drops and returns
-- The twin of the core's "drops and returns": a drop keeps the identity's place for
-- cfg.resume_grace_s; the graces sorted set lets any node expire it (a dead one's too).
local function grace_member(role, sub, n) return role .. "|" .. sub .. "|" .. tostring(n) end

local function start_grace(role, sub, n)
  redis.call("ZADD", key("graces"), now + cfg.resume_grace_s, grace_member(role, sub, n))
  start_timer("grace:" .. role .. ":" .. sub, cfg.resume_grace_s,
    {e = "grace_expired", role = role, sub = sub, drop_no = n})
end

local function cancel_grace(role, sub, n)
  redis.call("ZREM", key("graces"), grace_member(role, sub, n))
  cancel_timer("grace:" .. role .. ":" .. sub)
end

local function peer_notice(type_, ses, extra)
  local frame = {type = type_, session_id = ses.id}
  for k, v in pairs(extra) do frame[k] = v end
  return frame
end

-- Not offered while its user is away: no advisor is put in front of nobody.
local function hold_offers(req)
  if req.offered_to ~= "" then
    local adv = load("adv", req.offered_to)
    local back = adv.wants == "1" and "available" or "away"
    withdraw_offer(adv, back, "user_dropped")
  end
  if CLAIM or is_declined_all(req) then withdraw_claims(req, "user_dropped") end
end

local function open_request(user_id)
  return load("req", redis.call("GET", key("user", user_id)) or "")
end

local function user_dropped(sub)
  local req = open_request(sub)
  if not req or not blank(req.user_dropped_at) then return end
  req.user_dropped_at, req.user_drop_no = now, (tonumber(req.user_drop_no) or 0) + 1
  save("req", req, "user_dropped_at", "user_drop_no")
  index_waiting(req)
  record(req, "user.dropped")
  observe("drop", 1, "", "user")
  if WAITING[req.state] then
    hold_offers(req)
  elseif req.session_id ~= "" then
    cancel_transfer(req, "user_dropped")
    local ses = load("ses", req.session_id)
    send("advisor", ses.advisor_id, peer_notice("peer.disconnected", ses, {grace_s = cfg.resume_grace_s}))
  end
  start_grace("user", sub, req.user_drop_no)
end

local function advisor_dropped(sub)
  local adv = load("adv", sub)
  if not adv or not blank(adv.dropped_at) then return end
  adv.dropped_at, adv.drop_no = now, (tonumber(adv.drop_no) or 0) + 1
  save("adv", adv, "dropped_at", "drop_no")
  observe("drop", 1, "", "advisor")
  if adv.offer ~= "" then
    withdraw_offer(adv, "away")  -- the user is waiting: the offer passes on at once
  elseif adv.status == "available" then
    set_advisor_status(adv, "away")
  end
  if adv.session_id ~= "" then
    local ses = load("ses", adv.session_id)
    local req = load("req", ses.request_id)
    record(req, "advisor.dropped", {advisor = adv.id})
    send("user", req.user_id, peer_notice("peer.disconnected", ses, {grace_s = cfg.resume_grace_s}))
  end
  start_grace("advisor", adv.id, adv.drop_no)
end

-- The identity's last socket anywhere is gone: a drop.
local function disconnect(role, sub)
  if role == "user" then user_dropped(sub) elseif role == "advisor" then advisor_dropped(sub) end
end

local function user_returned(sub, resumed)
  local req = open_request(sub)
  if not req or blank(req.user_dropped_at) then return end
  local away = now - tonumber(req.user_dropped_at)
  req.user_dropped_at = ""
  save("req", req, "user_dropped_at")
  index_waiting(req)
  record(req, "user.returned", {after_s = half_up(away, 3), resumed = resumed})
  observe("returned", away, "", "user")
  cancel_grace("user", sub, req.user_drop_no)
  if WAITING[req.state] then
    touch(req.id)
  elseif req.session_id ~= "" then
    local ses = load("ses", req.session_id)
    send("advisor", ses.advisor_id, peer_notice("peer.reconnected", ses, {resumed = resumed}))
  end
end

local function advisor_returned(sub, resumed)
  local adv = load("adv", sub)
  if not adv or blank(adv.dropped_at) then return end
  local away = now - tonumber(adv.dropped_at)
  adv.dropped_at = ""
  save("adv", adv, "dropped_at")
  observe("returned", away, "", "advisor")
  cancel_grace("advisor", adv.id, adv.drop_no)
  if adv.session_id ~= "" then
    local ses = load("ses", adv.session_id)
    local req = load("req", ses.request_id)
    record(req, "advisor.returned", {after_s = half_up(away, 3), resumed = resumed})
    send("user", req.user_id, peer_notice("peer.reconnected", ses, {resumed = resumed}))
    return
  end
  -- Back in their place among the idle: they were idle all along.
  if adv.wants == "1" and adv.status == "away" then set_advisor_status(adv, "available") end
  local presence = adv.wants == "1" and "available" or "away"
  send("advisor", adv.id, {type = "advisor.state", state = presence, reason = "reconnected"})
end

local function advisor_offline(id)
  redis.call("ZREM", key("free"), id)
  redis.call("SREM", key("advisors"), id)
  local last = load("adv", id)
  index_free(last, false)
  if last.status ~= "away" then index_online(last, -1) end
  redis.call("HINCRBY", key("counts"), last.status, -1)
  observe("advisor_time", now - tonumber(last.status_since), "", last.status)
  redis.call("DEL", key("adv", id))
  forget("adv", id)
  if pending[id] then pending[id].free = false end
end

local function requeue(req, adv, reason)
  req.session_id = ""
  local declined = cjson.decode(req.declined ~= "" and req.declined or "[]")
  declined[#declined + 1] = adv.id
  req.declined = cjson.encode(declined)
  save("req", req, "session_id", "declined")
  set_request_state(req, "queued")
  redis.call("SET", key("user", req.user_id), req.id)
  -- Back at its place in line (enqueue time, priority, arrival number): it goes before
  -- everyone who came after it.
  enqueue(req)
  out[#out + 1] = {k = "waiting", user_id = req.user_id, request_id = req.id}
  record(req, "requeued", {reason = reason or "advisor_lost"})
  escalate(req)
end

local function user_lost(req)
  observe("grace_expired", 1, "", "user")
  local dropped = tonumber(req.user_dropped_at) or now
  record(req, "grace.expired", {side = "user"})
  if WAITING[req.state] then
    -- Abandoned when the socket went; no help.closed: there is nobody to tell.
    leave_queue(req, "abandoned", "abandoned", dropped)
  elseif req.session_id ~= "" then
    end_session(load("ses", req.session_id), "user_lost", "user")
  end
end

-- Past the grace: a session the advisor held ends, and its request goes back to the
-- head of the queue with its enqueue time, not to be offered to them again.
local function advisor_lost(adv)
  observe("grace_expired", 1, "", "advisor")
  if adv.session_id ~= "" then
    local ses = load("ses", adv.session_id)
    local req = load("req", ses.request_id)
    record(req, "grace.expired", {side = "advisor", advisor = adv.id})
    record(req, "session.ended", {reason = "advisor_lost", by = "advisor"})
    close_session(ses, "advisor_lost", "advisor")
    requeue(load("req", req.id), adv)
  end
  advisor_offline(adv.id)
end

-- ------------------------------------------------------------ transfers
-- The twin of the core's "transfers".
-- The session on the request's timeline, and session.started to both sides (an accept,
-- or a warm transfer taken).
local function announce_session(ses, req, adv)
  record(req, "session.started", {session_id = ses.id, advisor = adv.id, advisor_name = adv.name})
  send("user", req.user_id, {type = "session.started", session_id = ses.id, request_id = req.id,
    offerer = ses.offerer, peer = {id = adv.id, name = adv.name, role = "advisor"}, role = "user"})
  send("advisor", adv.id, {type = "session.started", session_id = ses.id, request_id = req.id,
    offerer = ses.offerer, peer = {id = req.user_id, name = req.user_name, role = "user"}, role = "advisor"})
end

-- What the user is told of where a transfer takes them: the advisor named, or skills.
local function send_transferring(req, target)
  local t = transfer_of(req)
  local to = target and {id = target.id, name = target.name} or {skills = t.skills}
  send("user", req.user_id, {type = "session.transferring", session_id = t.session_id,
    transfer_id = t.id, mode = t.mode, to = to})
end

-- A warm transfer's offer: like any offer (its number, reservation and timer), but the
-- request stays in its session until the target accepts.
local function offer_transfer(req, target)
  req.offer_no = tonumber(req.offer_no) + 1
  req.offered_to, target.offer, req.offered_at = target.id, req.id, now
  save("req", req, "offer_no", "offered_to", "offered_at")
  save("adv", target, "offer")
  set_advisor_status(target, "reserved")
  record(req, "transfer.offered", {advisor = target.id, offer_no = req.offer_no})
  local timeout = cfg.reservation_timeout_s
  redis.call("ZADD", key("offers"), now + timeout, req.id)
  start_timer("offer:" .. req.id, timeout,
    {e = "offer_expired", request_id = req.id, offer_no = req.offer_no})
  send("advisor", target.id, offer_frame(req, timeout, "offer"))
  send_transferring(req, target)
end

-- Cold: the call ends and the request waits again at its place, not for the advisor who
-- handed it on (and needing the skills given), offered to the target first if named.
local function cold_transfer(req, ses, adv, target, skills)
  if skills ~= "[]" then
    req.skills = skills
    save("req", req, "skills")
  end
  send_transferring(req, target)
  record(req, "session.ended", {reason = "transferred", by = "advisor"})
  close_session(ses, "transferred", "advisor")
  requeue(load("req", req.id), adv, "transferred")
  -- Claim mode makes no offers: the target sees it among those they may claim.
  if target and not CLAIM then offer(load("req", req.id), load("adv", target.id)) end
end

-- The target took a warm transfer: both advisors hear, the old session ends
-- (transferred) and the user starts a new one with the target, same request.
local function accept_transfer(req, target, session_id)
  if not target or req.offered_to ~= target.id then
    refuse("invalid_state", 'request "' .. req.id .. '" is not offered to you')
  end
  if redis.call("EXISTS", key("ses", session_id)) == 1 then
    refuse("invalid_state", 'session "' .. session_id .. '" exists')
  end
  local t, old = transfer_of(req), load("ses", req.session_id)
  cancel_timer("offer:" .. req.id)
  redis.call("ZREM", key("offers"), req.id)
  record(req, "transfer.accepted", {transfer_id = t.id, advisor = target.id, offer_no = tonumber(req.offer_no)})
  observe("answered_by", 1, "", target.id)
  req.transfer, req.offered_to, target.offer = "", "", ""
  save("req", req, "transfer", "offered_to")
  save("adv", target, "offer")
  local done = {type = "session.transferred", session_id = old.id, transfer_id = t.id,
                to = {id = target.id, name = target.name}}
  send("advisor", t.by, done)
  send("advisor", target.id, done)
  record(req, "session.ended", {reason = "transferred", by = "advisor"})
  close_session(old, "transferred", "advisor")
  local ses = {id = session_id, request_id = req.id, user_id = req.user_id, advisor_id = target.id,
               offerer = cfg.offerer, started_at = now, state = "active", ended_at = ""}
  save("ses", ses, "id", "request_id", "user_id", "advisor_id", "offerer", "started_at", "state", "ended_at")
  req.session_id, target.session_id = ses.id, ses.id
  save("req", req, "session_id")
  save("adv", target, "session_id")
  set_advisor_status(target, "busy")
  announce_session(ses, req, target)
end

local function finish_op()
  dispatch()
  for _, id in ipairs(touched) do
    local req = load("req", id)
    if req and WAITING[req.state] then notice(req) end
  end
  return effects()
end

-- ------------------------------------------------------------ indices of an older Redis
-- A Redis that ran scripts from before the routing indices has advisors online and
-- requests waiting in none of them: the first script to run builds them, once, from
-- key("advisors") and key("queue") (O(n) that one time), and key("indexed") says so.
-- A new Redis builds nothing. No refusal has been checked yet: nothing else has run.
if redis.call("EXISTS", key("indexed")) == 0 then
  for _, id in ipairs(redis.call("SMEMBERS", key("advisors"))) do
    local adv = load("adv", id)
    if adv and adv.status ~= "away" then index_online(adv, 1) end
    if adv and adv.status == "available" then index_free(adv, true) end
    for _, shown_id in ipairs(cjson.decode(adv and not blank(adv.claimable) and adv.claimable or "[]")) do
      redis.call("SADD", key("shown", shown_id), id)
    end
  end
  for _, member in ipairs(redis.call("ZRANGE", key("queue"), 0, -1)) do
    local req = load("req", queue_id(member))
    if req then
      redis.call("HDEL", key("req", req.id), "wq")  -- built afresh
      forget("req", req.id)
      index_waiting(req)
      for adv_id, untill in pairs(cooldowns(req)) do
        redis.call("ZADD", key("cools"), untill, req.id .. "\n" .. adv_id)
      end
    end
  end
  redis.call("SET", key("indexed"), "1")
end
