"""Every frame the server sends is a typed class that the client library reads back whole."""

from __future__ import annotations

import orjson

from mayday.client.client import parse_frame
from mayday.protocol.annotations import (
    AnnotationRelayed,
    AnnotationSnapshot,
    ControlInputRelayed,
    ControlState,
    ShareState,
)
from mayday.protocol.base import Outbound
from mayday.protocol.frames import SERVER_FRAMES
from mayday.protocol.messages import (
    Ack,
    AdvisorStateChanged,
    AuthExpiring,
    DeliveryFailed,
    ErrorFrame,
    Hello,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    HelpWithdrawn,
    MessageReplied,
    PeerDisconnected,
    PeerReconnected,
    QueueSummary,
    ServerDraining,
    SessionEnded,
    SessionStarted,
    SessionTransferred,
    SessionTransferring,
    SignalRelayed,
    TransferFailed,
)
from mayday.protocol.ops import OpsAlert, OpsUpdate

EXAMPLES: list[Outbound] = [
    Hello("u1", "user", "Tab", "0.1.0", 65536),
    Ack(3, {"request_id": "req_1"}),
    ErrorFrame("invalid_field", 'field "topic" must be a string', 7),
    ErrorFrame("rate_limited", "slow down"),
    HelpQueued("req_1", 2, 30.0, "queued", 1),
    HelpClosed("req_1", "cancelled"),
    HelpOffer("req_1", 15.0, {"id": "u1", "name": "Tab"}, "wifi", "en", ["wifi"], {}, 1.5),
    HelpOffer(
        "req_1",
        15.0,
        {"id": "u1", "name": "Tab"},
        "wifi",
        "en",
        [],
        {},
        1.5,
        transfer={"transfer_id": "tra_1", "from": {"id": "a1", "name": "Ada"}, "note": None},
    ),
    SessionTransferred("ses_1", "tra_1", {"id": "a2", "name": "Bo"}),
    SessionTransferring("ses_1", "tra_1", "warm", {"id": "a2", "name": "Bo"}),
    SessionTransferring("ses_1", "tra_1", "cold", {"skills": ["printer"]}),
    TransferFailed("tra_1", "ses_1", "declined"),
    DeliveryFailed(7, "ses_1", "invalid_state", "peer is not connected"),
    HelpWithdrawn("req_1", "timeout"),
    MessageReplied("msg_1", "Open tray 2.", {"id": "a1", "name": "Ada"}, 1_000_000.5),
    AdvisorStateChanged("away", "offer_timeout"),
    SessionStarted(
        "ses_1", "req_1", {"id": "a1", "name": "Ada", "role": "advisor"}, "advisor", [], "user"
    ),
    SessionEnded("ses_1", "req_1", "ended", "user"),
    PeerDisconnected("ses_1", 30.0),
    PeerReconnected("ses_1", False),
    ServerDraining(1.25),
    AuthExpiring(59.5, 30.0),
    SignalRelayed("ses_1", "a1", "advisor", description={"type": "offer", "sdp": "v=0"}),
    SignalRelayed("ses_1", "a1", "advisor", candidate=None, has_candidate=True),
    QueueSummary(1, 2.5, 0, 1, 0, 3),
    AnnotationRelayed(
        "ses_1", "stroke.begin", stroke_id="s1", color="#ff0000", width=0.01, points=[[0.1, 0.2]]
    ),
    AnnotationRelayed("ses_1", "laser", point=None),
    AnnotationRelayed("ses_1", "clear"),
    AnnotationSnapshot("ses_1", [{"stroke_id": "s1"}], "granted", True),
    ControlState("ses_1", "requested", "advisor"),
    ShareState("ses_1", True, "user"),
    ControlInputRelayed("ses_1", "scroll", [0.5, 0.5], [0.0, 0.25]),
    ControlInputRelayed("ses_1", "tap", [0.5, 0.5]),
    OpsUpdate(1.0, 9.0, 0.8, {"waiting": 0}, {}, {}, {}, []),
    OpsUpdate(
        1.0,
        9.0,
        0.8,
        {"waiting": 0},
        {},
        {},
        {},
        [],
        [{"id": "a1", "name": "Ada", "state": "away"}],
    ),
    OpsAlert("oldest_wait", "raised", "a user waited", 7.0, 1.0),
]


def test_every_registered_type_has_an_example() -> None:
    """The examples cover every frame type the server registers."""
    assert {type(e).TYPE for e in EXAMPLES} == set(SERVER_FRAMES)


def test_each_frame_survives_the_wire_as_the_same_typed_object() -> None:
    """to_frame, JSON with a seq, then the client's parse: the same object comes back."""
    for example in EXAMPLES:
        wire = orjson.loads(orjson.dumps({**example.to_frame(), "seq": 9}))
        assert parse_frame(wire) == example, example
