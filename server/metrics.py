"""The Prometheus endpoint: a listener of its own, never on the public port.

``GET /metrics`` on ``METRICS_HOST:METRICS_PORT`` (off unless a port is set) serves the
process's own figures (CPU seconds, memory, file descriptors: prometheus-client's process
collector), the number of connections, and the SFU's per-room figures
(``signaling.metrics``). Each ``Metrics`` has its own registry, so several servers in one
interpreter (the tests) do not mix their figures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from signaling.metrics import SfuCollector, Snapshot

from . import wire
from .config import Settings
from .media import Media
from .sessions import Sessions

log = logging.getLogger(__name__)


class _Sends:
    """How packets reached clients: written directly, or through Engine.IO's queue."""

    def __init__(self, sio: wire.Server) -> None:
        self._sio = sio

    def collect(self) -> Iterator[Metric]:
        engine = self._sio.eio
        family = CounterMetricFamily(
            "percolate_sent_packets",
            "Engine.IO packets sent to clients, by path: written straight to a "
            "WebSocket (direct) or through the connection's queue (queued)",
            labels=["path"],
        )
        family.add_metric(["direct"], getattr(engine, "direct", 0))
        family.add_metric(["queued"], getattr(engine, "queued", 0))
        yield family


class Metrics:
    def __init__(
        self,
        settings: Settings,
        sio: wire.Server,
        sessions: Sessions,
        media: Media,
        process: str,
    ) -> None:
        self._settings = settings
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        connections = Gauge(
            "percolate_connections",
            "Socket.IO connections to this process",
            registry=self.registry,
        )
        connections.set_function(lambda: len(sessions))
        self.registry.register(_Sends(sio))
        self.snapshot = Snapshot(media.stats)
        self.registry.register(SfuCollector(self.snapshot, process))
        self._runner: web.AppRunner | None = None

    async def render(self, request: web.Request) -> web.Response:
        await self.snapshot.take()
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        settings = self._settings
        if not settings.metrics_port:
            return
        metrics = web.Application()
        metrics.router.add_get("/metrics", self.render)
        self._runner = web.AppRunner(metrics, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.metrics_host, settings.metrics_port)
        await site.start()
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
