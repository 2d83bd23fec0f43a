"""``llmops merge``: the reports of ``--llm-shard K/N`` runs joined into one report.

The merged report is what a single run of the whole selection would have written: its cases
are the shards' records (each case exactly once, in the report's stable order), and every
suite's metrics are folded again from those records through the suite kind's aggregator (the
same fold a run does: latency percentiles from the pooled samples, regression statistics from
the pooled pairs, rates with their intervals), so nothing is averaged across shards.

Shards are refused, with the file named, when they cannot be one run: different selections
(suite files, -k, -m, models), plugin versions, seeds, model fingerprints or commits; a shard
missing or given twice; the same case in two shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pytest_llmops.provenance import merge_counters
from pytest_llmops.report.json_report import ReportBuilder
from pytest_llmops.report.load import ReportLoadError, read_report

SAME_ACROSS_SHARDS = ("plugin_version", "seed", "git_sha", "repeats", "temperature")


class MergeError(Exception):
    """Shards that cannot be merged; the message names the files and what differs."""


@dataclass
class ShardReport:
    path: Path
    report: dict[str, Any]

    @property
    def run(self) -> dict[str, Any]:
        run = self.report.get("run")
        return run if isinstance(run, dict) else {}

    @property
    def shard(self) -> dict[str, Any]:
        shard = self.run.get("shard")
        return shard if isinstance(shard, dict) else {}


def _models(run: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    return sorted((m.get("alias"), m.get("spec"), m.get("fingerprint"))
                  for m in run.get("models") or [] if isinstance(m, dict))


def load_shards(paths: list[Path]) -> list[ShardReport]:
    """Read and check the shard reports; :class:`MergeError` says what is wrong."""
    shards = []
    for path in paths:
        try:
            report, _ = read_report(Path(path))
        except ReportLoadError as exc:
            raise MergeError(str(exc)) from None
        shard = ShardReport(Path(path), report)
        info = shard.shard
        if not isinstance(info.get("index"), int) or not isinstance(info.get("count"), int):
            raise MergeError(f"{path}: not a shard report (its run has no shard K/N: run with --llm-shard)")
        shards.append(shard)
    if not shards:
        raise MergeError("no shard reports given")
    first = shards[0]
    for shard in shards[1:]:
        _same(first, shard, "shard count", lambda s: s.shard.get("count"))
        _same(first, shard, "selection (suite files, -k/-m, models, test files)",
              lambda s: s.shard.get("selection_sha256"))
        for key in SAME_ACROSS_SHARDS:
            _same(first, shard, key.replace("_", " "), lambda s, key=key: s.run.get(key))
        _same(first, shard, "models (alias, spec, fingerprint)", lambda s: _models(s.run))
    count = first.shard["count"]
    seen: dict[int, Path] = {}
    for shard in shards:
        index = shard.shard["index"]
        if index in seen:
            raise MergeError(f"shard {index}/{count} given twice: {seen[index]} and {shard.path}")
        seen[index] = shard.path
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in seen]
    if missing:
        raise MergeError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing "
                         f"(given: {', '.join(str(s.path) for s in shards)})")
    return sorted(shards, key=lambda s: s.shard["index"])


def _same(first: ShardReport, other: ShardReport, what: str, get: Callable[[ShardReport], Any]) -> None:
    if get(first) != get(other):
        raise MergeError(f"{other.path} and {first.path} are not shards of one run: their {what} differ "
                         f"({get(other)!r} vs {get(first)!r})")


def _suite_sources(shards: list[ShardReport]) -> None:
    """The same suite must come from the same file content in every shard."""
    seen: dict[str, tuple[Any, Path]] = {}
    for shard in shards:
        for name, suite in (shard.report.get("suites") or {}).items():
            source = suite.get("source") if isinstance(suite, dict) else None
            sha = source.get("sha256") if isinstance(source, dict) else None
            if name in seen and seen[name][0] != sha:
                raise MergeError(f"suite {name!r} comes from different files in {seen[name][1]} and {shard.path} "
                                 f"(sha256 {str(seen[name][0])[:12]} vs {str(sha)[:12]})")
            seen.setdefault(name, (sha, shard.path))


def merged_run(shards: list[ShardReport]) -> dict[str, Any]:
    """The merged ``run`` header: shared facts from the first shard, sums and extremes of the rest."""
    first = shards[0].run
    engine: dict[str, Any] = {}
    incomplete: list[str] = []
    for shard in shards:
        merge_counters(engine, shard.run.get("engine") or {})
        for reason in shard.run.get("incomplete") or []:
            incomplete.append(f"shard {shard.shard['index']}/{shard.shard['count']}: {reason}")
    caches = {shard.run.get("cache") for shard in shards}
    return {
        **{key: first.get(key) for key in ("plugin_version", "seed", "git_sha", "models", "env")},
        **{key: first[key] for key in ("repeats", "temperature") if key in first},
        "started_at": min(str(shard.run.get("started_at") or "") for shard in shards),
        "duration_s": max(float(shard.run.get("duration_s") or 0.0) for shard in shards),
        "cache": caches.pop() if len(caches) == 1 else "mixed",
        "engine": engine,
        "workers": sum(int(shard.run.get("workers") or 0) for shard in shards),
        "shards": [{"index": s.shard["index"], "count": s.shard["count"], "path": str(s.path),
                    "items": s.shard.get("items"), "duration_s": s.run.get("duration_s"),
                    "estimated_cost": (s.shard.get("estimated_cost") or {}).get(str(s.shard["index"]))}
                   for s in shards],
        "complete": all(shard.run.get("complete", True) is not False for shard in shards),
        "incomplete": incomplete,
    }


def merge_reports(paths: list[Path], out: Path, kind_of: Callable[[str], Any]) -> dict[str, Any]:
    """Merge the shard reports at ``paths`` into ``out``; return the merged header (without cases)."""
    shards = load_shards(paths)
    _suite_sources(shards)
    owner: dict[tuple[Any, Any, Any], Path] = {}
    records = []
    for shard in shards:
        for record in shard.report.get("cases") or []:
            if not isinstance(record, dict):
                raise MergeError(f"{shard.path}: a case that is not an object")
            key = (record.get("suite"), record.get("model"), record.get("id"))
            if key in owner:
                raise MergeError(f"case {key[2]!r} of suite {key[0]!r} ({key[1]}) is in both {owner[key]} "
                                 f"and {shard.path}")
            owner[key] = shard.path
            records.append(record)
    # Folded in the report's own order (suite, model, index, id), as a refold of one run's report is.
    records.sort(key=lambda r: (str(r.get("suite")), str(r.get("model")), r.get("index") or 0, str(r.get("id"))))
    builder = ReportBuilder(Path(out).parent, kind_of=kind_of)
    try:
        for record in records:
            builder.add(record)
        run = merged_run(shards)
        usage = builder.usage.as_dict()  # folded again from the records, as a single run does
        if usage is not None:
            run["usage"] = usage
        header = builder.header(run)
        builder.write(Path(out), header)
        return header
    finally:
        builder.close()
