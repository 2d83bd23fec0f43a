"""How often the reference-free detectors fire on a clean model's answers: their false-positive rates.

    python benchmarks/detector_false_positives.py reports/llmops-report.json [MORE.json ...]
    python benchmarks/detector_false_positives.py REPORT.json --model smollm2 --examples 5

Runs ``find_hedge``, ``find_repetition``, ``find_foreign_language``, ``is_empty`` (from
``pytest_llmops.checks.quality``) and ``detect_refusal`` over the ``output`` of every case in
the reports, and prints per detector: outputs scanned, flagged, the rate with its 95% Wilson
interval, then the same split by suite kind, then the first flagged outputs. By default every
model of the run is scanned except ``degrade:`` wrappers, which corrupt answers on purpose.

A flag is not necessarily a false positive: a small model really hedges and loops. Read the
examples before calling a rate a false-positive rate; docs/regression.md has the figures.
Adversarial answers are answers to attacks (refusing them is right), hence the split by kind.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from pytest_llmops.checks.builtin import detect_refusal
from pytest_llmops.checks.quality import find_foreign_language, find_hedge, find_repetition, is_empty
from pytest_llmops.core.stats import wilson_interval


def _refusal(text: str) -> str | None:
    match = detect_refusal(text)
    return match.group(0) if match else None


def _empty(text: str) -> str | None:
    return "empty" if is_empty(text) else None


#: detector name -> a function returning its evidence or None
DETECTORS: dict[str, Callable[[str], str | None]] = {
    "hedge": find_hedge,
    "repetition": find_repetition,
    "foreign_language": find_foreign_language,
    "empty": _empty,
    "refusal": _refusal,
}


@dataclass
class Output:
    """One case's answer and where it came from."""

    label: str  # suite::id[model]
    model: str
    kind: str
    text: str


@dataclass
class Tally:
    """What one detector did over the scanned outputs."""

    scanned: int = 0
    flagged: list[tuple[Output, str]] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [flagged, scanned]


def clean_models(report: dict[str, Any]) -> set[str]:
    """The run's model aliases, less ``degrade:`` wrappers (worse on purpose, so not clean)."""
    models = (report.get("run") or {}).get("models") or []
    return {m["alias"] for m in models if isinstance(m, dict) and m.get("alias")
            and not str(m.get("spec", "")).startswith("degrade:") and m.get("provider") != "degrade"}


def outputs(reports: Iterable[dict[str, Any]], models: set[str] | None = None) -> Iterator[Output]:
    """Every case output (a string) of the chosen models; ``models=None``: each report's clean ones."""
    for report in reports:
        wanted = models if models is not None else clean_models(report)
        for case in report.get("cases") or []:
            text = case.get("output")
            # A run without model metadata (an old or hand-made report) counts every model.
            if isinstance(text, str) and (not wanted or case.get("model") in wanted):
                label = f"{case.get('suite')}::{case.get('id')}[{case.get('model')}]"
                yield Output(label, str(case.get("model")), str(case.get("kind") or "?"), text)


def scan(items: Iterable[Output]) -> dict[str, Tally]:
    """Every detector over every output."""
    tallies = {name: Tally() for name in DETECTORS}
    for item in items:
        for name, detect in DETECTORS.items():
            tally = tallies[name]
            evidence = detect(item.text)
            counts = tally.by_kind.setdefault(item.kind, [0, 0])
            tally.scanned += 1
            counts[1] += 1
            if evidence is not None:
                tally.flagged.append((item, evidence))
                counts[0] += 1
    return tallies


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def render(tallies: dict[str, Tally], examples: int = 3, width: int = 100) -> str:
    """The tables and examples as plain text."""
    lines = [f"{'detector':<18}{'scanned':>8}{'flagged':>8}{'rate':>8}   95% CI"]
    for name, tally in tallies.items():
        n, k = tally.scanned, len(tally.flagged)
        low, high = wilson_interval(k, n)
        rate = f"{k / n:.1%}" if n else "-"
        lines.append(f"{name:<18}{n:>8}{k:>8}{rate:>8}   [{low:.1%}, {high:.1%}]")
    kinds = sorted({kind for tally in tallies.values() for kind in tally.by_kind})
    if kinds:
        lines += ["", "flagged/scanned by suite kind", f"{'detector':<18}" + "".join(f"{k:>14}" for k in kinds)]
        for name, tally in tallies.items():
            cells = [tally.by_kind.get(kind, [0, 0]) for kind in kinds]
            lines.append(f"{name:<18}" + "".join(f"{f'{f}/{s}':>14}" for f, s in cells))
    for name, tally in tallies.items():
        if not tally.flagged or examples <= 0:
            continue
        lines += ["", f"{name}: first {min(examples, len(tally.flagged))} of {len(tally.flagged)} flagged"]
        for item, evidence in tally.flagged[:examples]:
            lines.append(f"  {item.label}: {_clip(evidence, width // 2)}")
            lines.append(f"    output: {_clip(repr(item.text), width)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="llmops-report.json files")
    parser.add_argument("--model", action="append", help="model alias to scan (repeatable; default: the clean ones)")
    parser.add_argument("--examples", type=int, default=3, help="flagged outputs shown per detector")
    parser.add_argument("--width", type=int, default=100, help="characters of each example shown")
    args = parser.parse_args(argv)
    reports = []
    for path in args.reports:
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"cannot read {path}: {exc}", file=sys.stderr)
            return 2
    items = list(outputs(reports, set(args.model) if args.model else None))
    if not items:
        print("no case outputs of the chosen models in " + ", ".join(map(str, args.reports)), file=sys.stderr)
        return 1
    models = sorted({item.model for item in items})
    print(f"{len(items)} outputs of {', '.join(models)} from {len(reports)} report(s)\n")
    print(render(scan(items), args.examples, args.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
