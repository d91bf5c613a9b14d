"""The SFU's figures for Prometheus, per room and per process.

``SfuCollector`` reads the latest ``RoomStats`` of every room this process holds at scrape
time. Reading them needs the event loop (``RTCRtpSender.getStats`` is a coroutine), so the
scrape handler takes a snapshot first (``Snapshot.take``) and the collector, which
prometheus-client calls synchronously, only formats it. Room labels are bounded by the
rooms alive: a room's series go when its media does. Counters of a room include its closed
sessions (``MediaRoom`` keeps their totals), so they never go down while the room lives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .room import RoomStats

_GAUGES = {
    "publishers": "Sources being forwarded (a member's mic, camera or screen)",
    "subscribers": "Subscriber slots assigned: one per source per receiving session",
    "sessions": "Media sessions (one peer connection per client connection per room)",
}
_COUNTERS = {
    "frames_received": ("frames", "Complete frames received from publishers"),
    "frames_forwarded": ("forwarded", "Frames written to subscribers (as RTP packets)"),
    "frames_dropped": ("dropped", "Frames dropped because a subscriber fell behind"),
    "keyframe_requests": ("keyframe_requests", "Keyframe requests (PLI) sent to publishers"),
    "forwarded_packets": ("packets", "RTP packets sent to subscribers"),
    "forwarded_bytes": ("bytes", "RTP payload and header bytes sent to subscribers"),
    "cpu_seconds": ("cpu_seconds", "Thread CPU time packetizing and writing frames"),
}


@dataclasses.dataclass
class Snapshot:
    """The latest figures, taken on the event loop just before a scrape."""

    read: Callable[[], Awaitable[Mapping[str, RoomStats]]]
    rooms: Mapping[str, RoomStats] = dataclasses.field(default_factory=dict)

    async def take(self) -> None:
        self.rooms = dict(await self.read())


class SfuCollector(Collector):
    def __init__(self, snapshot: Snapshot, process: str) -> None:
        self.snapshot = snapshot
        self.process = process

    def collect(self) -> Iterator[Metric]:
        labels = ["room", "process"]
        rooms = self.snapshot.rooms
        for name, help_text in _GAUGES.items():
            gauge = GaugeMetricFamily(f"percolate_sfu_{name}", help_text, labels=labels)
            for room, stats in rooms.items():
                gauge.add_metric([room, self.process], getattr(stats, name))
            yield gauge
        for name, (field, help_text) in _COUNTERS.items():
            counter = CounterMetricFamily(f"percolate_sfu_{name}", help_text, labels=labels)
            for room, stats in rooms.items():
                counter.add_metric([room, self.process], getattr(stats, field))
            yield counter
        rooms_gauge = GaugeMetricFamily(
            "percolate_sfu_rooms", "Rooms whose media this process holds", labels=["process"]
        )
        rooms_gauge.add_metric([self.process], len(rooms))
        yield rooms_gauge
