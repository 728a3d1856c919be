"""Every Redis key name Mayday uses, in one place.

All keys share the hash tag ``{mayday}`` (or the configured one), so that
every routing script touches a single slot and runs on Redis Cluster. The
price: routing state lives on one shard; the relay inboxes and node keys do
too. See docs/deploy.md for what that means for capacity.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "{mayday}:"

    # Routing state; the Lua scripts build these same names from the prefix.
    @property
    def queue(self) -> str:
        """ZSET "arrival number|request id" -> enqueue time - priority * step: requests
        waiting (queued or offered), in the order they are served (prelude.lua)."""
        return f"{self.prefix}queue"

    @property
    def queue_since(self) -> str:
        """ZSET request id -> enqueue time: the same waiting requests, oldest first (their
        time-to-live, the oldest wait)."""
        return f"{self.prefix}queue_since"

    @property
    def queue_seq(self) -> str:
        """STRING counter: the arrival number of the last request queued (built in Lua)."""
        return f"{self.prefix}queue_seq"

    @property
    def free(self) -> str:
        """ZSET advisor id -> idle since: available advisors."""
        return f"{self.prefix}free"

    @property
    def advisors(self) -> str:
        """SET of advisor ids online (any state)."""
        return f"{self.prefix}advisors"

    @property
    def offers(self) -> str:
        """ZSET request id -> expiry time of its current offer."""
        return f"{self.prefix}offers"

    @property
    def route_due(self) -> str:
        """ZSET request id -> when its next escalation step or first cooldown end is due."""
        return f"{self.prefix}route_due"

    @property
    def declined_all(self) -> str:
        """SET of waiting request ids once found declined by every online advisor (the
        summary counts those that still are; shown to the decliners to take)."""
        return f"{self.prefix}declined_all"

    # The routing indices (prelude.lua, "advisor indices", "the waiting index"): so that
    # no routing script walks every advisor or every waiting request.
    def free_with(self, skill: str) -> str:
        """ZSET advisor id -> idle since: the free advisors who hold ``skill`` (or both
        of a pair, ``"a|b"`` with a < b)."""
        return f"{self.prefix}fs:{skill}"

    def online_with(self, skill: str) -> str:
        """SET of the online (not away) advisors who hold ``skill``."""
        return f"{self.prefix}os:{skill}"

    @property
    def fit(self) -> str:
        """HASH "skill|L" or "a|b|L" (a < b) -> how many online advisors hold that skill,
        or both, at level L or more (estimate() and the escalation's skip read it)."""
        return f"{self.prefix}fit"

    def waiting_index(self, *parts: object) -> str:
        """ZSET queue member -> queue score: the offerable requests by what the step in
        force asks ("none"; "all", L, "a|b"; "all3", L; "any", L, skill)."""
        return self.prefix + ":".join(["wq", *map(str, parts)])

    @property
    def cools(self) -> str:
        """ZSET "request id\nadvisor id" -> end of that decline's cooldown: dispatch()
        looks again at the requests whose cooldown ended."""
        return f"{self.prefix}cools"

    def shown(self, request_id: str) -> str:
        """SET of the advisors whose claim list may hold the request (claim mode, and
        offer mode's declined-by-all), so that taking it back reads only them."""
        return f"{self.prefix}shown:{request_id}"

    @property
    def indexed(self) -> str:
        """STRING "1" once the routing indices are built (on a Redis from before them,
        by the first script that runs)."""
        return f"{self.prefix}indexed"

    @property
    def graces(self) -> str:
        """ZSET "role|sub|drop number" -> end of that drop's grace period."""
        return f"{self.prefix}graces"

    @property
    def requests(self) -> str:
        """ZSET request id -> time requested: every request kept in history, for ops."""
        return f"{self.prefix}requests"

    @property
    def handle_times(self) -> str:
        """LIST of the last 50 session durations."""
        return f"{self.prefix}handle_times"

    @property
    def counts(self) -> str:
        """HASH advisor status -> how many online advisors are in it (built in Lua only)."""
        return f"{self.prefix}counts"

    @property
    def topics(self) -> str:
        """SET of the topics admitted as metric labels (at most MAYDAY_MAX_TOPIC_LABELS)."""
        return f"{self.prefix}topics"

    def request(self, request_id: str) -> str:
        """HASH of one request."""
        return f"{self.prefix}req:{request_id}"

    def timeline(self, request_id: str) -> str:
        """LIST of JSON [t, event, data] entries of one request."""
        return f"{self.prefix}tl:{request_id}"

    def advisor(self, advisor_id: str) -> str:
        """HASH of one online advisor."""
        return f"{self.prefix}adv:{advisor_id}"

    def session(self, session_id: str) -> str:
        """HASH of one session."""
        return f"{self.prefix}ses:{session_id}"

    def user(self, user_id: str) -> str:
        """STRING: the user's open request id."""
        return f"{self.prefix}user:{user_id}"

    def user_requests(self, user_id: str) -> str:
        """LIST of the user's latest 20 request ids, newest first (kept ``history_ttl_s``)."""
        return f"{self.prefix}hist:{user_id}"

    def notes(self, user_id: str) -> str:
        """HASH request id -> JSON of the advisor's note on that call: the user's notes on
        their latest 20 calls, kept ``history_ttl_s`` after the latest was written."""
        return f"{self.prefix}notes:{user_id}"

    def note_entry(self, request_id: str) -> str:
        """STRING: the ``noted`` timeline entry of the request's note as pushed (a new note
        takes it off); kept ``history_ttl_s``."""
        return f"{self.prefix}noted:{request_id}"

    def rating(self, request_id: str) -> str:
        """HASH ``body`` (the user's rating JSON of the request's call), ``entry`` (its
        ``rated`` timeline entry as pushed, so that a new rating takes it off); kept
        ``history_ttl_s`` after it was written."""
        return f"{self.prefix}rating:{request_id}"

    # Messages left when nobody could answer (mayday/stores/messages.py); no expiry.
    def message(self, message_id: str) -> str:
        """HASH ``body`` (the message JSON as left), ``reply`` (the reply JSON, set once:
        ``HSETNX`` decides between two advisors), ``read_at``."""
        return f"{self.prefix}msg:{message_id}"

    def messages(self, state: str) -> str:
        """ZSET message id -> left_at, of the messages in ``state`` (open, answered)."""
        return f"{self.prefix}msgs:{state}"

    def request_messages(self, request_id: str) -> str:
        """SET of the ids of the messages that name one request (the request's history)."""
        return f"{self.prefix}msgs:req:{request_id}"

    def user_open_messages(self, user_id: str) -> str:
        """SET of the user's open message ids (at most ``OPEN_PER_USER``)."""
        return f"{self.prefix}msgs:user:{user_id}"

    def user_unread(self, user_id: str) -> str:
        """ZSET message id -> left_at, of the user's replies not yet marked read."""
        return f"{self.prefix}msgs:unread:{user_id}"

    # The webhook outbox (mayday/webhooks/redis_outbox.py).
    def webhook(self, delivery_id: str) -> str:
        """STRING: one delivery's JSON (pending; settled ones expire after 7 days)."""
        return f"{self.prefix}wh:{delivery_id}"

    @property
    def webhooks_due(self) -> str:
        """ZSET delivery id -> when it is due: the pending deliveries (a claimed one is due
        again at its lease's end)."""
        return f"{self.prefix}wh:due"

    @property
    def webhook_attempts(self) -> str:
        """LIST of the latest 500 attempts' JSON, newest first."""
        return f"{self.prefix}wh:attempts"

    @property
    def webhooks_disabled(self) -> str:
        """HASH endpoint id -> JSON {at, status, url}: endpoints that answered 410."""
        return f"{self.prefix}wh:disabled"

    # SLA tallies and alerts (mayday/metrics/).
    def stats(self, kind: str, slot: int) -> str:
        """HASH "topic|counter" -> sum, for one minute (kind "m") or hour ("h") slot."""
        return f"{self.prefix}stats:{kind}:{slot}"

    def advisor_day(self, day: int) -> str:
        """HASH "advisor|counter" -> count, for one UTC day (``day``: days since the epoch):
        calls, declines and missed offers of each advisor, for the ops table."""
        return f"{self.prefix}stats:a:{day}"

    @property
    def alerts(self) -> str:
        """HASH alert name -> JSON {message, value, since} of the alerts raised now."""
        return f"{self.prefix}alerts"

    # Nodes and relay.
    @property
    def nodes(self) -> str:
        """ZSET node id -> last heartbeat time."""
        return f"{self.prefix}nodes"

    def node_clients(self, node_id: str) -> str:
        """SET of "role|sub" connected to one node."""
        return f"{self.prefix}node:{node_id}:clients"

    def location(self, role: str, sub: str) -> str:
        """HASH node id -> open sockets of (role, sub) on that node."""
        return f"{self.prefix}loc:{role}:{sub}"

    @property
    def relayed(self) -> str:
        """HASH node id -> "BATCH<TAB>counts" of the last relay batch it delivered."""
        return f"{self.prefix}relayed"

    def inbox(self, node_id: str) -> str:
        """STREAM of frames for clients connected to one node."""
        return f"{self.prefix}inbox:{node_id}"

    # Parked streams: the numbered frames of a socket that closed, kept for the grace so
    # that a socket on any node can resume it (mayday/transport/redis_streams.py). Under
    # the one hash tag: a claim registers the new socket's location and a delivery finds
    # parked streams in the same atomic step as the relay's.
    def stream(self, stream_id: str) -> str:
        """HASH role, sub, seq (last number), evicted_to, bytes of one parked stream."""
        return f"{self.prefix}stream:{stream_id}"

    def stream_frames(self, stream_id: str) -> str:
        """LIST of "seq<TAB>frame JSON" kept in a parked stream, oldest first."""
        return f"{self.prefix}frames:{stream_id}"

    def resume_token(self, token: str) -> str:
        """STRING: the parked stream a resume token names (single use)."""
        return f"{self.prefix}resume:{token}"

    def parked(self, role: str, sub: str) -> str:
        """ZSET stream id -> parked at: the parked streams of (role, sub)."""
        return f"{self.prefix}parked:{role}:{sub}"

    # Sessions' annotations, co-pilot control and audit (mayday/sessions/lua/ builds these
    # same names from the prefix).
    def board(self, session_id: str) -> str:
        """HASH of one session's shared screen: control (consent state), paused ("0" or
        "1"), points (how many the drawing holds)."""
        return f"{self.prefix}board:{session_id}"

    def strokes(self, session_id: str) -> str:
        """HASH stroke id -> JSON of the stroke without its points."""
        return f"{self.prefix}strokes:{session_id}"

    def stroke_order(self, session_id: str) -> str:
        """LIST of the live stroke ids, oldest first."""
        return f"{self.prefix}order:{session_id}"

    def stroke_points(self, session_id: str, stroke_id: str) -> str:
        """STRING: one stroke's points as JSON list items without the brackets, appended."""
        return f"{self.prefix}pts:{session_id}:{stroke_id}"

    def retired(self, session_id: str) -> str:
        """SET of stroke ids undone or cleared (a late retry of them is a no-op)."""
        return f"{self.prefix}retired:{session_id}"

    def audit(self, session_id: str) -> str:
        """LIST of JSON audit entries of one session (control and pause), oldest first."""
        return f"{self.prefix}audit:{session_id}"

    def board_of(self, role: str, sub: str) -> str:
        """STRING: the latest session id of (role, sub) that has a board."""
        return f"{self.prefix}board_of:{role}:{sub}"
