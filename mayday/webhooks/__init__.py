"""Signed webhooks (Standard Webhooks) for what integrators push or text: a durable
outbox on the backend, and the sender that drains it with retries.

``endpoints`` reads ``MAYDAY_WEBHOOKS`` and signs; ``outbox`` and ``redis_outbox`` keep
the deliveries where they survive a restart (an SQLite file, or Redis); ``sender``
queues each event for the endpoints that want it and posts them; ``events`` names the
routing effects that are events. docs/webhooks.md is the integrator's side.
"""
