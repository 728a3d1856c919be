"""The OpenAPI 3.1 document of every HTTP endpoint, served at ``/api/openapi.json``.

It lives here, beside the handlers it describes, and two tests keep it true: every
route the app registers is documented and every documented path is routed
(tests/transport/test_openapi.py), and schemathesis checks the live server's answers
against it with every role's token and with none.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mayday import __version__

JSON = "application/json"

_ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "Health": {
        "type": "object",
        "required": ["status", "store", "connections"],
        "properties": {
            "status": {"const": "ok"},
            "store": {"type": "string", "description": "MemoryStore or RedisStore"},
            "connections": {"type": "integer", "minimum": 0},
        },
    },
    "OpsUpdate": {
        "type": "object",
        "description": "The ops view, as the ops.update frame carries it (docs/protocol.md).",
        "required": [
            "type",
            "time",
            "target_s",
            "service_level_goal",
            "queue",
            "windows",
            "predicted",
            "alerts",
            "recent",
        ],
        "properties": {
            "type": {"const": "ops.update"},
            "time": {"type": "number"},
            "target_s": {"type": "number"},
            "service_level_goal": {"type": "number"},
            "queue": {"type": "object"},
            "windows": {"type": "object"},
            "predicted": {"type": "object"},
            "alerts": {"type": "object"},
            "recent": {"type": "array", "items": {"type": "object"}},
        },
    },
    "RequestView": {
        "type": "object",
        "required": ["request_id", "user_id", "outcome", "requested_at", "offers", "timeline"],
        "properties": {
            "request_id": {"type": "string"},
            "user_id": {"type": "string"},
            "topic": _STRING_OR_NULL,
            "outcome": {"type": "string"},
            "advisor": _STRING_OR_NULL,
            "requested_at": {"type": "number"},
            "accepted_at": _NUMBER_OR_NULL,
            "first_frame_at": _NUMBER_OR_NULL,
            "closed_at": _NUMBER_OR_NULL,
            "time_to_accept_s": _NUMBER_OR_NULL,
            "time_to_advisor_s": _NUMBER_OR_NULL,
            "offers": {"type": "array", "items": {"type": "object"}},
            "missed_offers": {"type": "integer", "minimum": 0},
            "priority": {"type": "integer", "minimum": -10, "maximum": 10},
            "rating_score": {
                "type": ["integer", "null"],
                "minimum": 1,
                "maximum": 5,
                "description": "the user's score of the call (its rated timeline entry)",
            },
            "timeline": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Requests": {
        "type": "object",
        "required": ["requests", "count"],
        "properties": {
            "requests": {"type": "array", "items": {"$ref": "#/components/schemas/RequestView"}},
            "count": {"type": "integer", "minimum": 0},
        },
    },
    "Audit": {
        "type": "object",
        "required": ["session_id", "user_id", "advisor_id", "entries"],
        "properties": {
            "session_id": {"type": "string"},
            "user_id": _STRING_OR_NULL,
            "advisor_id": _STRING_OR_NULL,
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["t", "event", "by", "side"],
                    "properties": {"t": {"type": "number"}, "event": {"type": "string"}},
                },
            },
        },
    },
    "Erased": {
        "type": "object",
        "required": ["user_id", "erased"],
        "properties": {
            "user_id": {"type": "string"},
            "erased": {
                "type": "object",
                "description": "how many of each kind were erased (0 each on a second call)",
                "required": ["requests", "messages", "notes", "ratings", "audit_entries"],
                "properties": {
                    kind: {"type": "integer", "minimum": 0}
                    for kind in ("requests", "messages", "notes", "ratings", "audit_entries")
                },
            },
        },
    },
    "RequestHistory": {
        "type": "object",
        "description": (
            "The fields of RequestView (all null but request_id and user_id when the "
            "request itself is no longer kept), and what was kept with it."
        ),
        "required": ["request_id", "user_id", "outcome", "timeline", "messages", "rating", "notes"],
        "properties": {
            "request_id": {"type": "string"},
            "user_id": _STRING_OR_NULL,
            "outcome": _STRING_OR_NULL,
            "requested_at": _NUMBER_OR_NULL,
            "timeline": {"type": ["array", "null"], "items": {"type": "object"}},
            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "rating": {
                "type": ["object", "null"],
                "required": ["session_id", "advisor_id", "score", "comment", "rated_at"],
                "properties": {
                    "session_id": {"type": "string"},
                    "advisor_id": {"type": "string"},
                    "score": {"type": "integer", "minimum": 1, "maximum": 5},
                    "comment": _STRING_OR_NULL,
                    "rated_at": {"type": "number"},
                },
            },
            "notes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["session_id", "advisor", "text", "written_at"],
                    "properties": {
                        "session_id": {"type": "string"},
                        "advisor": {"type": "object"},
                        "text": {"type": "string"},
                        "written_at": {"type": "number"},
                    },
                },
            },
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "message_id",
            "state",
            "user",
            "text",
            "left_at",
            "reply",
            "read",
            "origin",
        ],
        "properties": {
            "message_id": {"type": "string"},
            "state": {"enum": ["open", "answered"]},
            "user": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
            "text": {"type": "string"},
            "contact": _STRING_OR_NULL,
            "request_id": _STRING_OR_NULL,
            "left_at": {"type": "number"},
            "reply": {
                "type": ["object", "null"],
                "required": ["text", "advisor", "at"],
                "properties": {
                    "text": {"type": "string"},
                    "advisor": {"type": "object"},
                    "at": {"type": "number"},
                },
            },
            "read": {"type": "boolean", "description": "the user marked the reply read"},
            "origin": {
                "enum": ["user", "expired"],
                "description": "user: left with message.leave; expired: made by the server "
                "for a request that expired while its user was away",
            },
        },
    },
    "OnlineAdvisor": {
        "type": "object",
        "required": ["id", "name", "state", "skills", "since"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "state": {
                "enum": ["free", "reserved", "busy", "away"],
                "description": "free: available, and may be offered a warm transfer now",
            },
            "skills": {"type": "array", "items": {"type": "string"}},
            "since": {"type": "number", "description": "epoch seconds, in this state since"},
        },
    },
    "OnlineAdvisors": {
        "type": "object",
        "required": ["advisors"],
        "properties": {
            "advisors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/OnlineAdvisor"},
                "maxItems": 200,
            }
        },
    },
    "Messages": {
        "type": "object",
        "required": ["messages", "count"],
        "properties": {
            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "count": {"type": "integer", "minimum": 0},
        },
    },
}


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A required path parameter: a non-empty string unless ``schema`` says more."""
    schema = schema or {"type": "string", "minLength": 1}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _text(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


_UNAUTHORIZED = _json("Error", "no token, or a token refused (expired, wrong signature...)")
_FORBIDDEN = _json("Error", "a valid token of another role")
_OPS_ONLY: list[dict[str, list[str]]] = [{"bearer": []}]


def _page(name: str, who: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"The {name} ({who}); it reads its token from ?token= or asks for one",
            "operationId": f"page_{name.split()[0]}",
            "tags": ["pages"],
            "security": [],
            "responses": {"200": _text("text/html", "the page")},
        }
    }


PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Liveness: the store in use and the sockets open on this process",
            "operationId": "healthz",
            "tags": ["operations"],
            "security": [],
            "responses": {"200": _json("Health", "the process serves")},
        }
    },
    "/ws": {
        "get": {
            "summary": "The WebSocket of one client (JSON text frames, docs/protocol.md)",
            "description": (
                "An upgrade with a valid token opens the socket (101). With a bad token "
                "an upgrade is accepted and closed at once with code 4401 (browsers hide "
                "HTTP statuses from pages); a plain request gets 401. A plain request "
                "with a valid token gets 400: this path speaks WebSocket only."
            ),
            "operationId": "websocket",
            "tags": ["clients"],
            "security": [],
            "parameters": [
                {
                    "name": "token",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "the client's JWT (never logged)",
                }
            ],
            "responses": {
                "101": {"description": "switching to the WebSocket protocol"},
                "400": _text("text/plain", "not a WebSocket upgrade"),
                "401": _UNAUTHORIZED,
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus exposition of this process (docs/metrics.md)",
            "operationId": "metrics",
            "tags": ["operations"],
            "security": [],
            "responses": {"200": _text("text/plain", "Prometheus text format 0.0.4")},
        }
    },
    "/api/ops/summary": {
        "get": {
            "summary": "The live ops view: queue, advisors, measures by window, alerts",
            "operationId": "ops_summary",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "responses": {
                "200": _json("OpsUpdate", "the view now"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
            },
        }
    },
    "/api/ops/requests": {
        "get": {
            "summary": "Request timelines, newest first, as JSON or CSV",
            "operationId": "ops_requests",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "parameters": [
                {
                    "name": "since",
                    "in": "query",
                    "schema": {"type": "number"},
                    "description": "epoch seconds (default: a day ago)",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 10000},
                    "description": "at most this many (default 1000)",
                },
                {"name": "outcome", "in": "query", "schema": {"type": "string"}},
                {"name": "advisor", "in": "query", "schema": {"type": "string"}},
                {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
            ],
            "responses": {
                "200": {
                    "description": "the requests",
                    "content": {
                        JSON: {"schema": {"$ref": "#/components/schemas/Requests"}},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "400": _json("Error", "since or limit is not a number in range"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
            },
        }
    },
    "/api/ops/requests/{request_id}": {
        "get": {
            "summary": "One request's view with its whole timeline",
            "operationId": "ops_request",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "parameters": [_path("request_id")],
            "responses": {
                "200": {
                    "description": "the request",
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
                "404": _json("Error", "no such request"),
            },
        }
    },
    "/api/requests/{request_id}": {
        "get": {
            "summary": "One request's history: timeline, messages, rating and notes",
            "description": (
                "For an ops token (advisor and user tokens get 403). A request the server "
                "no longer keeps but whose rating, note or message is still stored (the "
                "memory store after a restart) is returned with its own fields null; 404 "
                "when nothing of it is kept."
            ),
            "operationId": "request_history",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "parameters": [_path("request_id")],
            "responses": {
                "200": _json("RequestHistory", "the request's history"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
                "404": _json("Error", "nothing is kept of such a request"),
            },
        }
    },
    "/api/users/{user_id}": {
        "delete": {
            "summary": "Erase one user's data: requests, timelines, messages, notes, audit",
            "description": (
                "For an ops token (advisor and user tokens get 403). Erases the user's "
                "finished requests with their timelines and sessions, their messages with "
                "the replies, the advisors' notes about them, their ratings and the audit "
                "logs of their sessions, on every node. Webhook deliveries already queued "
                "are not recalled. 409 while the user has a request open (waiting or in a "
                "call): cancel or end it first. Idempotent: a second call erases nothing."
            ),
            "operationId": "erase_user",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "parameters": [_path("user_id", {"type": "string", "minLength": 1, "maxLength": 128})],
            "responses": {
                "200": _json("Erased", "what was erased"),
                "400": _json("Error", "user_id is longer than 128"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
                "409": _json("Error", "invalid_state: the user has a request open"),
            },
        }
    },
    "/api/sessions/{session_id}/audit": {
        "get": {
            "summary": "A session's co-pilot and screen-sharing audit log, oldest first",
            "operationId": "session_audit",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "parameters": [_path("session_id")],
            "responses": {
                "200": _json("Audit", "the log"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
                "404": _json("Error", "no such session"),
            },
        }
    },
    "/api/advisors": {
        "get": {
            "summary": "The advisors online, free ones first (longest idle first)",
            "description": (
                "For an advisor or ops token; a user token gets 403. What the console's "
                "transfer dialog lists: free advisors by idle time, then the reserved, busy "
                "and away ones. At most limit (200 at most): it is bounded, whatever the "
                "number online."
            ),
            "operationId": "online_advisors",
            "tags": ["advisors"],
            "security": _OPS_ONLY,
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    "description": "at most this many (default 200)",
                }
            ],
            "responses": {
                "200": _json("OnlineAdvisors", "the advisors online"),
                "400": _json("Error", "an unknown parameter, or limit out of range"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
            },
        }
    },
    "/api/messages": {
        "get": {
            "summary": "Messages users left when nobody could answer, oldest first",
            "description": "For an advisor or ops token; a user token gets 403.",
            "operationId": "messages",
            "tags": ["advisors"],
            "security": _OPS_ONLY,
            "parameters": [
                {"name": "state", "in": "query", "schema": {"enum": ["open", "answered"]}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "description": "at most this many (default 100)",
                },
            ],
            "responses": {
                "200": _json("Messages", "the messages"),
                "400": _json("Error", "an unknown parameter, or state or limit out of range"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
            },
        }
    },
    "/api/webhooks/deliveries": {
        "get": {
            "summary": "Webhook endpoints, deliveries pending and the latest attempts",
            "description": "Newest attempts first; URLs without query or credentials.",
            "operationId": "webhook_deliveries",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 500},
                    "description": "at most this many attempts (default 100)",
                }
            ],
            "responses": {
                "200": {
                    "description": "endpoints, pending count and attempts",
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                "400": _json("Error", "limit is not a number in range"),
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
            },
        }
    },
    "/api/webhooks/endpoints/{endpoint_id}/enable": {
        "post": {
            "summary": "Send to an endpoint again after it answered 410",
            "operationId": "webhook_enable",
            "tags": ["ops"],
            "security": _OPS_ONLY,
            "parameters": [_path("endpoint_id")],
            "responses": {
                "200": {
                    "description": "the endpoint and whether it was disabled",
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                "401": _UNAUTHORIZED,
                "403": _FORBIDDEN,
                "404": _json("Error", "no such endpoint"),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "tags": ["operations"],
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {}}}},
        }
    },
    "/": _page("index page", "links to the three pages"),
    "/tablet": _page("tablet page", "user role"),
    "/advisor": _page("advisor console", "advisor role"),
    "/ops": _page("ops dashboard", "ops role"),
    "/static/{path}": {
        "get": {
            "summary": "The pages' scripts, styles and the npm files they load",
            "operationId": "static",
            "tags": ["pages"],
            "security": [],
            "parameters": [_path("path", {"type": "string", "pattern": "^[A-Za-z0-9._/-]+$"})],
            "responses": {
                "200": {"description": "the file", "content": {"*/*": {}}},
                "403": {"description": "a folder, or outside the web root"},
                "404": {"description": "no such file"},
            },
        }
    },
}

# The paths served only with the web pages (not with MAYDAY_API_ONLY).
PAGE_PATHS = frozenset({"/", "/tablet", "/advisor", "/ops", "/static/{path}"})


def document(*, pages: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document; without ``pages``, that of an API-only server."""
    paths = {p: v for p, v in PATHS.items() if pages or p not in PAGE_PATHS}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mayday",
            "version": __version__,
            "description": (
                "The HTTP side of the Mayday signaling server. Clients speak over one "
                "WebSocket at /ws (frames in docs/protocol.md); these endpoints serve the "
                "pages, liveness, metrics and the ops API. Tokens are JWTs (HS256) whose "
                "role claim is user, advisor or ops."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }


OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)


def add_routes(app: web.Application, *, pages: bool = True) -> None:
    app[OPENAPI] = document(pages=pages)
    app.router.add_get("/api/openapi.json", openapi_json)


async def openapi_json(request: web.Request) -> web.Response:
    """The document describing this server's HTTP endpoints."""
    return web.json_response(request.app[OPENAPI])
