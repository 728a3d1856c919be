"""What every frame the server sends has in common."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class Outbound:
    """A frame the server sends; ``seq`` is added per connection by the transport.

    ``to_frame`` is the JSON object put on the wire, ``from_frame`` reads one back
    (the client library), ignoring fields this version does not know.
    """

    TYPE: ClassVar[str] = ""

    def to_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": self.TYPE}
        frame.update(self.__dict__)
        return frame

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in frame.items() if k in names})
