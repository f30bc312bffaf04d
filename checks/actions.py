"""Checks of the actions family (SPEC §2)."""

from __future__ import annotations

from mailgate.registry import CheckSpec

CHECKS: list[CheckSpec] = []
