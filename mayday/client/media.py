"""Synthetic media for bots and tests: a video track that needs no camera and no numpy."""

from __future__ import annotations

from aiortc import VideoStreamTrack
from av import VideoFrame


class PatternVideoTrack(VideoStreamTrack):
    """A moving gradient, ``width`` x ``height`` yuv420p, at aiortc's default 30 fps.

    ``shade`` picks the chroma so the two sides of a call are told apart:
    the tablet's "screen" and the advisor's "camera".
    """

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, shade: int = 64) -> None:
        super().__init__()
        self.width, self.height, self.shade = width, height, shade
        self.frames_sent = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        luma = (self.frames_sent * 4) % 256
        for plane, value in zip(frame.planes, (luma, self.shade, 255 - self.shade), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.frames_sent += 1
        return frame
