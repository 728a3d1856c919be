"""The Python client library: a typed WebSocket client and an aiortc peer over Mayday signaling.

async with await MaydayClient.connect(url, token) as client:
    queued = await client.request_help(topic="wifi")
    started = await client.next(SessionStarted)
"""

from mayday.client.client import (
    Backoff,
    LinkLost,
    LinkRestored,
    MaydayClient,
    MaydayError,
    RefreshToken,
    Unknown,
)
from mayday.client.media import PatternVideoTrack
from mayday.client.peer import MaydayPeer
from mayday.protocol.annotations import (
    AnnotationRelayed,
    AnnotationSnapshot,
    ControlInputRelayed,
    ControlState,
    ShareState,
)
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
    PeerDisconnected,
    PeerReconnected,
    QueueSummary,
    SessionEnded,
    SessionStarted,
    SessionTransferred,
    SessionTransferring,
    SignalRelayed,
    TransferFailed,
)
from mayday.protocol.ops import OpsAlert, OpsUpdate

__all__ = [
    "Ack",
    "AdvisorStateChanged",
    "AnnotationRelayed",
    "AnnotationSnapshot",
    "AuthExpiring",
    "Backoff",
    "ControlInputRelayed",
    "ControlState",
    "DeliveryFailed",
    "ErrorFrame",
    "Hello",
    "HelpClosed",
    "HelpOffer",
    "HelpQueued",
    "HelpWithdrawn",
    "LinkLost",
    "LinkRestored",
    "MaydayClient",
    "MaydayError",
    "MaydayPeer",
    "OpsAlert",
    "OpsUpdate",
    "PatternVideoTrack",
    "PeerDisconnected",
    "PeerReconnected",
    "QueueSummary",
    "RefreshToken",
    "SessionEnded",
    "SessionStarted",
    "SessionTransferred",
    "SessionTransferring",
    "ShareState",
    "SignalRelayed",
    "TransferFailed",
    "Unknown",
]
