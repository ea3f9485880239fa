"""Prometheus metrics in the text exposition format (version 0.0.4), written here: counters,
gauges and histograms are a few lines each, and ragkit needs no client library for them.

``GET /metrics`` shows requests by route and status, request latency, time to the first
token, time waiting for the model, tokens in and out, response-cache hits, rejections,
and the generation queue's current state.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(x: float) -> str:
    return repr(float(x)) if x != int(x) else str(int(x))


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        self._series: dict[Labels, list[float]] = {}  # per bucket counts, then sum, count

    def observe(self, value: float, labels: Labels = ()) -> None:
        s = self._series.setdefault(labels, [0.0] * (len(self.buckets) + 2))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                s[i] += 1
        s[-2] += value
        s[-1] += 1

    def lines(self, name: str) -> list[str]:
        out = []
        for labels, s in sorted(self._series.items()):
            for bound, n in zip(self.buckets, s, strict=False):
                out.append(f"{name}_bucket{_labels((*labels, ('le', _num(bound))))} {_num(n)}")
            out.append(f"{name}_bucket{_labels((*labels, ('le', '+Inf')))} {_num(s[-1])}")
            out.append(f"{name}_sum{_labels(labels)} {round(s[-2], 6)}")
            out.append(f"{name}_count{_labels(labels)} {_num(s[-1])}")
        return out


class Metrics:
    """The server's metrics; ``render()`` is the ``/metrics`` text. ``gauges`` are read when
    rendering (name -> (help, function))."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self.histograms: dict[str, Histogram] = defaultdict(Histogram)
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        self.counters[name][tuple(sorted(labels.items()))] += value

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.histograms[name].observe(value, tuple(sorted(labels.items())))

    def value(self, name: str, **labels: str) -> float:
        """A counter's current value (0 if never incremented)."""
        return self.counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        out: list[str] = []
        for name, (help_, fn) in sorted(self.gauges.items()):
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {_num(fn())}"]
        for name in sorted(self.counters):
            out += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} counter"]
            out += [f"{name}{_labels(labels)} {_num(v)}"
                    for labels, v in sorted(self.counters[name].items())]
        for name in sorted(self.histograms):
            out += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} histogram"]
            out += self.histograms[name].lines(name)
        return "\n".join(out) + "\n"


HELP = {
    "ragkit_http_requests_total": "HTTP requests by method, route and status.",
    "ragkit_http_request_duration_seconds": "HTTP request latency, to the last byte sent.",
    "ragkit_time_to_first_token_seconds": "Chat completions: arrival to first answer token.",
    "ragkit_generation_queue_wait_seconds": "Time a chat completion waited for the model.",
    "ragkit_tokens_total": "Tokens of chat completions, by kind (prompt, completion).",
    "ragkit_answers_total": "Chat completions answered, by how (generated, cached).",
    "ragkit_cache_hits_total": "Answers served from the response cache.",
    "ragkit_rejected_total": "Requests refused, by reason (rate_limit, queue_full, "
                             "unauthorized, too_large).",
}


class MetricsMiddleware:
    """Counts every request by method, route template and status, and times it to its
    last byte (streams included)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            labels = {"method": scope["method"], "route": path}
            self.metrics.inc("ragkit_http_requests_total", status=str(status[0]), **labels)
            self.metrics.observe("ragkit_http_request_duration_seconds",
                                 time.perf_counter() - started, route=path)
