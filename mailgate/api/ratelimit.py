"""Per-client rate limits for the routes anyone may call (HOSTILE 39): 429 with Retry-After.

The open routes that cost CPU — the gallery's preview, form post and download (a render plus two
lints each), and ``/v1/lint`` / ``/v1/format`` when ``[api] public_lint`` opens them — draw from a
token bucket per client address: ``[api] open_rate`` requests per second, bursts of ``open_burst``.
The address is the socket peer, never ``X-Forwarded-For`` (a header anyone can write); behind a
reverse proxy every client shares the proxy's bucket, so size it for that or rate-limit there.
Token-holding callers are not limited here: admins and add-ins are accountable by their token.

Failed token attempts are limited separately (``[api] auth_fail_rate`` / ``auth_fail_burst``): each
unknown, revoked or malformed token a client presents draws from its bucket, and once the bucket
is empty every request from that client that presents a token is answered 429 *before* the token
is looked up, until the bucket refills, so guessing gets nowhere and costs the store nothing.
"""

from __future__ import annotations

import threading
import time

from fastapi import HTTPException, Request, status

MAX_CLIENTS = 10_000  # buckets kept; the oldest are dropped beyond this (a flood of addresses)


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None, *, spend: bool = True) -> float:
        """0 when the request may go ahead, else the seconds until it could. ``spend=False`` only
        looks: would a request go ahead now?"""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens < 1:
                wait = (1 - tokens) / self.rate
            elif spend:
                tokens -= 1
            self._buckets[client] = (tokens, now)  # re-inserted: dict order = least recently seen first
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.pop(next(iter(self._buckets)))
            return wait


def client_of(request: Request) -> str:
    return request.client.host if request.client else "-"


def check(limiter: RateLimiter | None, request: Request, *, spend: bool = True) -> None:
    """429 with Retry-After when the client's bucket is empty; else spend one (unless ``spend=False``)."""
    if limiter is None:
        return
    wait = limiter.take(client_of(request), spend=spend)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail={"code": "rate-limited", "message": "请求过于频繁，请稍后再试 / too many requests, retry later"},
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
