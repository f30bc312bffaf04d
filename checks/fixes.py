"""Fixes several families offer."""

from __future__ import annotations

from collections.abc import Sequence

from mailgate.directory import Person
from mailgate.model import Applicability, Edit, Fix, Message, Text


def add_to_cc(msg: Message, people: Sequence[Person]) -> Fix:
    """Append ``people`` to Cc: unsafe, since format and the relay never change who receives a message."""
    cc = msg.field_text.get("cc", "")
    shown = [p.formatted() for p in people]
    text = (", " if cc.strip() else "") + ", ".join(shown)
    return Fix(
        Text(f"抄送 {'、'.join(shown)}", f"add {', '.join(shown)} to Cc"),
        (Edit("cc", len(cc), len(cc), text),),
        Applicability.UNSAFE,
    )
