"""What a running bot reports about itself, in Prometheus' text format on a loopback port (`MUREC_METRICS_PORT`).

Counters of requests by kind (command, button, clip) and outcome (ok, flood, busy, error), latency histograms per
command, the audio queue's depth, and each chat adapter's state and failures. The registry belongs to this object
(built by the composition root), never the library's process-wide default, so two cores in one process (tests) keep
their own figures. The endpoint binds 127.0.0.1 only: operators scrape it through their own tunnel or agent.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

#: Latency buckets (seconds) from a cheap command (~5 ms) to a long clip (~30 s).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The bot's figures; `serve` exposes them on 127.0.0.1."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "murecom_requests",
            "Requests handled, by kind (command, button, clip), name and outcome (ok, flood, busy, error)",
            ["kind", "name", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "murecom_request_seconds",
            "Time from a request reaching the core to its replies, by kind and name",
            ["kind", "name"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.audio_in_flight = Gauge(
            "murecom_audio_in_flight", "Clips being analysed or waiting for the audio pool", registry=self.registry
        )
        self.adapter_up = Gauge(
            "murecom_adapter_up", "1 while a chat adapter is running, 0 while it waits or has failed", ["adapter"],
            registry=self.registry,
        )  # fmt: skip
        self.adapter_failures = Counter(
            "murecom_adapter_failures", "Chat adapter failures (each followed by a restart or a stop)", ["adapter"],
            registry=self.registry,
        )  # fmt: skip
        self.platform_waits = Counter(
            "murecom_platform_waits", "Replies held back by a platform's rate limit (429), by adapter and outcome "
            "(sent: waited out within MUREC_PLATFORM_WAIT_BUDGET; dropped: over it)", ["adapter", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, port: int) -> int:
        """Start the endpoint on 127.0.0.1:`port` (0: any free port); returns the port it listens on."""
        self._server, self._thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
