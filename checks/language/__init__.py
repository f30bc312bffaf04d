"""Checks of the language family (SPEC §2 Language): wording, civility, claims, data, secrets, typography.

Body rules look only at the new text (``msg.new_text``: quoted earlier messages are cut or
blanked, offsets are body offsets); ``wording-civility`` also reads the subject. Word lists are
data (``checks/data/vague.toml``, ``civility.toml``, ``unverified.toml``, ``datasource.toml``,
``vague_rewrites.toml``); formats (numbers, keys, punctuation) are precompiled patterns in the
check modules, all linear: no nested quantifiers over overlapping classes, bounded spans.

One module per check; ``spans`` (protected URLs, addresses, code) and ``words`` (many-word
search, per-lexicon caches) are shared. The examples stay in ``checks/examples/<id>``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from checks.language.civility import wording_civility
from checks.language.datasource import data_source
from checks.language.sensitive import sensitive_data
from checks.language.typography import typography
from checks.language.unverified import content_unverified
from checks.language.vague import wording_vague
from mailgate.registry import CheckSpec

_EXAMPLES = Path(__file__).parents[1] / "examples"

CHECKS: list[CheckSpec] = [
    replace(spec, examples_dir=_EXAMPLES / spec.id)
    for spec in (wording_vague, wording_civility, content_unverified, data_source, sensitive_data, typography)
]
