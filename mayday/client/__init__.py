"""The Python client library: a typed WebSocket client and an aiortc peer over Mayday signaling.

async with await MaydayClient.connect(url, token) as client:
    queued = await client.request_help(topic="wifi")
    started = await client.next(SessionStarted)
"""

from mayday.client.client import Ack, ErrorFrame, MaydayClient, MaydayError, Unknown
from mayday.client.media import PatternVideoTrack
from mayday.client.peer import MaydayPeer
from mayday.protocol.messages import (
    AdvisorStateChanged,
    Hello,
    HelpClosed,
    HelpOffer,
    HelpQueued,
    HelpWithdrawn,
    QueueSummary,
    SessionEnded,
    SessionStarted,
    SignalRelayed,
)

__all__ = [
    "Ack",
    "AdvisorStateChanged",
    "ErrorFrame",
    "Hello",
    "HelpClosed",
    "HelpOffer",
    "HelpQueued",
    "HelpWithdrawn",
    "MaydayClient",
    "MaydayError",
    "MaydayPeer",
    "PatternVideoTrack",
    "QueueSummary",
    "SessionEnded",
    "SessionStarted",
    "SignalRelayed",
    "Unknown",
]
