"""A suite file's bias-slice keys: ``slices:`` at the top and ``metadata:`` on a case (docs/slices.md)."""

from __future__ import annotations

from typing import Any

from pytest_llmops.core.slices import merge_slices, parse_slice


def suite_slices(raw: Any, run_slices: Any, fail: Any) -> dict[str, str]:
    """The file's ``slices:`` (a list of ``PATH`` or ``NAME=PATH``, or a mapping ``NAME: PATH``)
    with the run's ``--llm-slice`` slices; a clash of names is the file's error."""
    if raw is None:
        raw = []
    if isinstance(raw, dict):
        raw = [f"{name}={path}" for name, path in raw.items()]
    if not isinstance(raw, list):
        raise fail("slices", "expected a list of record fields such as [metadata.segment, tags] "
                             "(or NAME=PATH entries), or a mapping NAME: PATH")
    own = []
    for position, entry in enumerate(raw):
        try:
            own.append(parse_slice(entry))
        except ValueError as exc:
            raise fail(f"slices[{position}]", str(exc)) from None
    try:
        return merge_slices(own, list(run_slices or ()))
    except ValueError as exc:
        raise fail("slices", f"{exc}{' (with --llm-slice)' if run_slices else ''}") from None


def case_metadata(raw: Any, fail: Any) -> dict[str, Any]:
    """A case's ``metadata:``: names to text, number or true/false values (copied into its record)."""
    metadata = raw or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, (str, int, float, bool)) for v in metadata.values()):
        raise fail("metadata", "expected a mapping of names to text, number or true/false values")
    return dict(metadata)
