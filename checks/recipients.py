"""Checks of the recipients family (SPEC §2)."""

from __future__ import annotations

from mailgate.registry import CheckSpec

CHECKS: list[CheckSpec] = []
