"""Checks of the types family (SPEC §2): meeting notices and minutes, urgency, policy pre-notice, signature.

A message's *type* comes from its subject: the 【TAG】 when it names a type, else words of the
topic (``【项目进度】…周会会议记录`` is minutes) — see ``kind``. Labelled lines (``会议时间：…``)
are read by ``labels`` and the meeting elements by ``elements``; label and word lists live in
``checks/data/types.toml``. One module per check otherwise: ``meetings``, ``priority``,
``prenotice``, ``signature``.

The examples stay with every other family's, in ``checks/examples/<id>/``, not below this package.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from checks.types.meetings import meeting_minutes, meeting_notice
from checks.types.prenotice import policy_prenotice
from checks.types.priority import urgent_priority
from checks.types.signature import signature
from mailgate.registry import CheckSpec

_EXAMPLES = Path(__file__).parent.parent / "examples"

CHECKS: list[CheckSpec] = [
    replace(spec, examples_dir=_EXAMPLES / spec.id)
    for spec in (meeting_notice, meeting_minutes, urgent_priority, policy_prenotice, signature)
]
