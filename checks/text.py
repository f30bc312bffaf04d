"""Small text helpers the check families share."""

from __future__ import annotations


def shorten(text: str, limit: int = 24) -> str:
    """``text`` on one line, cut to at most ``limit`` characters with “…” when longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
