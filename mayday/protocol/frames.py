"""Every frame type the server sends, by its ``type``: what the Redis store rebuilds from
its scripts' output and what the client library parses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mayday.protocol.annotations import (
    AnnotationRelayed,
    AnnotationSnapshot,
    ControlInputRelayed,
    ControlState,
    ShareState,
)
from mayday.protocol.base import Outbound
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

SERVER_FRAMES: dict[str, type[Outbound]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        Ack,
        ErrorFrame,
        HelpQueued,
        HelpClosed,
        HelpOffer,
        HelpWithdrawn,
        MessageReplied,
        AdvisorStateChanged,
        SessionStarted,
        SessionEnded,
        SessionTransferred,
        SessionTransferring,
        TransferFailed,
        DeliveryFailed,
        PeerDisconnected,
        PeerReconnected,
        ServerDraining,
        AuthExpiring,
        SignalRelayed,
        QueueSummary,
        AnnotationRelayed,
        AnnotationSnapshot,
        ControlState,
        ShareState,
        ControlInputRelayed,
        OpsUpdate,
        OpsAlert,
    )
}


def parse_server_frame(frame: Mapping[str, Any]) -> Outbound | None:
    """The typed frame, or None for a type this version does not know."""
    kind = SERVER_FRAMES.get(frame.get("type", ""))
    return None if kind is None else kind.from_frame(frame)
