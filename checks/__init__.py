"""The regulation (运营管理沟通规定) written as checks.

This table lists every check id, in report order, with its family module —
like Ruff's ``codes.rs``. Each family module exposes ``CHECKS``, the specs it
defines; the registry refuses duplicates and this module refuses a spec that
is missing from the table or a table entry without a spec.
"""

from __future__ import annotations

from pathlib import Path

from checks import actions, language, recipients, structure, subject, types
from mailgate.registry import CheckSpec, Registry

TABLE: tuple[tuple[str, str], ...] = (
    ("subject-tag", "subject"),
    ("subject-topic", "subject"),
    ("recipients-valid", "recipients"),
    ("recipients-directory", "recipients"),
    ("recipients-scope", "recipients"),
    ("recipients-external", "recipients"),
    ("recipients-audience", "recipients"),
    ("body-numbered", "structure"),
    ("action-items", "actions"),
    ("action-item-owner", "actions"),
    ("action-item-deadline", "actions"),
    ("action-owner-recipient", "actions"),
    ("attachment-missing", "structure"),
    ("body-layout", "structure"),
    ("wording-vague", "language"),
    ("wording-civility", "language"),
    ("content-unverified", "language"),
    ("data-source", "language"),
    ("sensitive-data", "language"),
    ("typography", "language"),
    ("meeting-notice", "types"),
    ("meeting-minutes", "types"),
    ("urgent-priority", "types"),
    ("policy-prenotice", "types"),
    ("signature", "types"),
)

_FAMILIES = (subject, recipients, structure, actions, language, types)


def _build() -> Registry:
    specs: dict[str, CheckSpec] = {}
    for module in _FAMILIES:
        for spec in module.CHECKS:
            if spec.id in specs:
                raise ValueError(f"duplicate check id {spec.id!r}")
            specs[spec.id] = spec
    table_ids = [cid for cid, _ in TABLE]
    extra = set(specs) - set(table_ids)
    if extra:
        raise ValueError(f"checks missing from TABLE: {sorted(extra)}")
    for cid, family in TABLE:
        if cid in specs and specs[cid].family != family:
            raise ValueError(f"{cid}: family {specs[cid].family!r} differs from TABLE ({family!r})")
    ordered = tuple(specs[cid] for cid in table_ids if cid in specs)
    return Registry(ordered, lexicon_dir=Path(__file__).parent / "data")


REGISTRY = _build()
