"""Limits: a per-client token-bucket rate limit, and the fair, bounded queue in front of the
model.

One in-process llama.cpp model answers one request at a time (``LlamaCppLLM`` holds a lock
while it generates). Left to that lock, waiting requests would pile up in threads without
bound and in no particular order. :class:`GenerationQueue` hands the model out first come,
first served, to at most ``slots`` requests at once, lets at most ``max_waiting`` wait, and
refuses the next with an estimate of when to retry. Everything else (retrieval, building
the prompt) runs before a request's turn, concurrently with other requests' generation.

Both classes are used from the event loop's thread only, so they need no lock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque


class RateLimiter:
    """A token bucket per client: ``burst`` requests at once, refilled at ``per_minute``.

    >>> limiter = RateLimiter(per_minute=60, burst=2)
    >>> limiter.take("key"), limiter.take("key"), limiter.take("key") > 0
    (0.0, 0.0, True)
    """

    MAX_CLIENTS = 10_000  #: buckets kept (least recently used dropped beyond)

    def __init__(self, per_minute: float, burst: int) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError(f"rate limit needs per_minute > 0 and burst >= 1, got "
                             f"{per_minute!r}, {burst!r}")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one token of ``client``'s bucket: 0.0 if allowed, else the seconds until a
        token is back (the request is refused and spends nothing)."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        while len(self._buckets) > self.MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class QueueFull(Exception):
    """The generation queue is full; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, waiting: int) -> None:
        super().__init__(f"{waiting} requests are already waiting for the model; retry in "
                         f"{retry_after} s.")
        self.retry_after = retry_after


class Ticket:
    """A request's place in the :class:`GenerationQueue`. ``await turn()`` returns when the
    model is this request's; ``release()`` (idempotent) gives it back or leaves the line."""

    def __init__(self, queue: GenerationQueue) -> None:
        self._queue = queue
        self.state = "waiting"  # waiting -> granted -> done, or waiting -> done
        self.entered = time.monotonic()
        self.granted_at = 0.0
        self._future: asyncio.Future[None] | None = None

    async def turn(self) -> float:
        """Wait for this request's turn; returns the seconds waited."""
        if self.state == "waiting":
            self._future = asyncio.get_running_loop().create_future()
            try:
                await self._future
            except BaseException:
                self.release()
                raise
        if self.state != "granted":
            raise RuntimeError("this ticket was released")
        return self.granted_at - self.entered

    def _grant(self) -> None:
        self.state = "granted"
        self.granted_at = time.monotonic()
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    def release(self) -> None:
        self._queue._release(self)


class GenerationQueue:
    """First come, first served access to the model for ``slots`` requests at a time, with
    at most ``max_waiting`` waiting.

    ``enter()`` is called when a request arrives (before retrieval): it returns a
    :class:`Ticket` or raises :class:`QueueFull` with a Retry-After estimate (the mean time
    a request held the model, times the requests ahead, per slot).
    """

    def __init__(self, slots: int = 1, max_waiting: int = 16) -> None:
        if slots < 1 or max_waiting < 0:
            raise ValueError(f"slots must be >= 1 and max_waiting >= 0, got {slots!r}, "
                             f"{max_waiting!r}")
        self.slots, self.max_waiting = slots, max_waiting
        self.active = 0
        self._waiting: deque[Ticket] = deque()
        self.mean_hold = 2.0  #: seconds a request holds the model (moving average)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def retry_after(self) -> int:
        ahead = self.waiting + 1
        return max(1, math.ceil(self.mean_hold * ahead / self.slots))

    def enter(self) -> Ticket:
        ticket = Ticket(self)
        if self.active < self.slots and not self._waiting:
            self.active += 1
            ticket._grant()
        elif len(self._waiting) >= self.max_waiting:
            raise QueueFull(self.retry_after(), self.waiting)
        else:
            self._waiting.append(ticket)
        return ticket

    def _release(self, ticket: Ticket) -> None:
        if ticket.state == "waiting":
            self._waiting.remove(ticket)
        elif ticket.state == "granted":
            self.active -= 1
            held = time.monotonic() - ticket.granted_at
            self.mean_hold = 0.8 * self.mean_hold + 0.2 * held
        ticket.state = "done"
        while self.active < self.slots and self._waiting:
            self.active += 1
            self._waiting.popleft()._grant()
