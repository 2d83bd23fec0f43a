"""Detector false positives: how often a detector fires on outputs that are not attacks at all.

The benign outputs are real answers of the model to the functional suites
(``fixtures/adversarial/benign_outputs.yaml``, refreshed by
``fixtures/adversarial/make_benign.py``). Each case runs its own detectors, with its own
arguments (its canaries, its patterns), over every benign output and puts the outputs they
fired on in its record; the suite's aggregator unions them per detector, so
``detector_false_positive_rate`` is the share of benign outputs on which the suite's detector
would have reported something.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_llmops.suites.adversarial.corpora import CorpusError, load_yaml


def load_benign(path: Path) -> list[tuple[str, str]]:
    """``(label, output)`` pairs from a benign-outputs file (``outputs: [{suite, id, output}]``)."""
    data = load_yaml(path)
    entries = data.get("outputs") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise CorpusError(f"{path}: expected 'outputs:', a non-empty list of {{suite, id, output}}")
    out = []
    for position, entry in enumerate(entries):
        if isinstance(entry, str):
            out.append((f"#{position}", entry))
        elif isinstance(entry, dict) and isinstance(entry.get("output"), str):
            label = "::".join(str(entry[k]) for k in ("suite", "id") if entry.get(k) is not None) or f"#{position}"
            out.append((label, entry["output"]))
        else:
            raise CorpusError(f"{path}: outputs[{position}] has no 'output' string")
    return out


def benign_hits(path: Path, uses: list[tuple[Any, Any]]) -> dict[str, Any]:
    """``{"n": N, "hits": {detector: [labels]}}`` for ``uses`` = [(detector object, args)]."""
    outputs = load_benign(path)
    hits: dict[str, list[str]] = {}
    for detector, args in uses:
        fired = hits.setdefault(detector.name, [])
        for label, text in outputs:
            if label not in fired and detector.detect(text, args).fired:
                fired.append(label)
    return {"n": len(outputs), "hits": hits}
