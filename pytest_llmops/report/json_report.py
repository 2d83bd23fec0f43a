"""Building the canonical JSON report on the controller, without holding every case in memory.

Records arrive one by one (from this process or from xdist workers). Each is appended to
a spool file and folded into its suite's counters; only a sort key and a file offset per
case stay in memory. At the end the report is written in one pass: header, suites, then
the cases copied from the spool in a stable order, so a plain run and ``-n 2`` produce
the same report (timings aside).
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from pytest_llmops.report import SCHEMA_VERSION
from pytest_llmops.core.atomic import write_atomic
from pytest_llmops.core.stats import rate_metric
from pytest_llmops.report.usage import RunUsage, UsageFold
from pytest_llmops.report.ab import ABCollector
from pytest_llmops.report.slices import SliceFold

OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass
class SuiteTotals:
    """Running counts for one (suite, model) pair."""

    kind: str
    model: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    cached: int = 0
    source: dict[str, str] | None = None  # the suite file and its sha256, when it came from one
    aggregator: Any = None  # the suite kind's metrics aggregator (see suites/kinds.py)
    face: Any = None  # the suite kind's report face: headline metric, direction, one-line summary
    usage: UsageFold = field(default_factory=UsageFold)  # tokens and cost (report/usage.py)
    slices: SliceFold = field(default_factory=SliceFold)  # bias slices by record fields (report/slices.py)

    @property
    def n(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    def as_dict(self) -> dict[str, Any]:
        scored = self.passed + self.failed
        # Infra errors are neither passes nor failures: they are left out of the rate
        # and reported on their own, so a flaky endpoint cannot look like a model change.
        own = self.aggregator.metrics() if self.aggregator is not None else {}
        sliced = self.slices.metrics()
        if isinstance(own.get("slices"), dict) and sliced:
            # a kind that slices its own way (drift: per window) keeps its slices of the same name
            own = {**own, "slices": {**sliced["slices"], **own["slices"]}}
        metrics = {"pass_rate": rate_metric(self.passed, scored),
                   "error_rate": rate_metric(self.errors, self.n - self.skipped),
                   # Before the kind's own metrics: a kind that reports a metric of the same name
                   # (the latency kind's per-request output_tokens) keeps its own.
                   **self.usage.metrics(),
                   **sliced,
                   **own}
        return {
            "kind": self.kind, "model": self.model, "n": self.n, "passed": self.passed, "failed": self.failed,
            "errors": self.errors, "skipped": self.skipped, "cached": self.cached,
            **({"source": self.source} if self.source else {}),
            "metrics": metrics,
            **({"face": self.face.as_dict(metrics)} if self.face is not None else {}),
        }


@dataclass
class ReportBuilder:
    """Collects records and writes ``llmops-report.json``."""

    directory: Path
    #: kind name -> the suite kind (its ``aggregator()`` and ``face``); None: pass rate only
    kind_of: Callable[[str], Any] | None = None
    _spool: Any = None
    _spool_size: int = 0
    _index: list[tuple[tuple[Any, ...], int, int]] = field(default_factory=list)
    suites: dict[tuple[str, str], SuiteTotals] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    gpus: set[str] = field(default_factory=set)
    usage: RunUsage = field(default_factory=RunUsage)  # the run's tokens and cost, per model too
    #: prompt variants of a suite, compared with their reference across suites (report/ab.py)
    ab: ABCollector = field(default_factory=ABCollector)
    _ab_results: tuple[int, dict[tuple[str, str], Any]] | None = None

    def add(self, record: dict[str, Any]) -> None:
        """Fold one case record in (a JSON-able dict with at least suite, model, id, outcome)."""
        outcome = record.get("outcome")
        if outcome not in OUTCOMES:
            raise ValueError(f"record {record.get('id')!r} has outcome {outcome!r}; expected one of {OUTCOMES}")
        key = (record["suite"], record["model"])
        totals = self.suites.get(key)
        if totals is None:
            kind = str(record.get("kind", ""))
            totals = self.suites[key] = SuiteTotals(kind=kind, model=record["model"])
            if self.kind_of is not None:
                handler = self.kind_of(kind)
                totals.aggregator, totals.face = handler.aggregator(), handler.face
                # what counts as a pass in a slice: the kind says (a metamorphic case: the relation held)
                totals.slices = SliceFold(getattr(handler, "slice_outcome", None))
            if record.get("suite_sha256"):
                totals.source = {"path": str(record.get("suite_file", "")), "sha256": record["suite_sha256"]}
        if outcome == "error":
            totals.errors += 1
        else:
            setattr(totals, outcome, getattr(totals, outcome) + 1)
        totals.cached += bool(record.get("cached"))
        totals.usage.add(record)
        self.usage.add(record)
        if totals.aggregator is not None:
            totals.aggregator.add(record)
        totals.slices.add(record)
        self.ab.add(record)
        if record.get("device"):
            self.devices.add(record["device"])
        if record.get("gpu"):
            self.gpus.add(record["gpu"])
        data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
        offset = self._append(data)
        sort_key = (record["suite"], record["model"], record.get("index", 0), record["id"])
        self._index.append((sort_key, offset, len(data)))

    def _append(self, data: bytes) -> int:
        """Spool ``data`` after the records before it; its offset.

        The spool is a file in the report folder (a long run's records need not fit in memory),
        unbuffered so that a failed write is seen at once. When the folder cannot take it (a full
        disk, no permission), the records move to memory and the run goes on: the report write at
        the end then says what is wrong, or succeeds if space was freed meanwhile.
        """
        offset = self._spool_size
        try:
            if self._spool is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._spool = tempfile.TemporaryFile(mode="w+b", buffering=0, dir=self.directory,
                                                     prefix=".llmops-spool-")
            self._spool.seek(offset)
            view = memoryview(data)
            while view:
                view = view[self._spool.write(view):]
        except OSError:
            memory = io.BytesIO()  # never fails: later records land here without another try
            if self._spool is not None:
                self._spool.seek(0)
                memory.write(self._spool.read(offset))  # the records written whole before this one
                self._spool.close()
            memory.write(data)
            self._spool = memory
        self._spool_size = offset + len(data)
        return offset

    @property
    def case_count(self) -> int:
        return len(self._index)

    def suite_key(self, suite: str, model: str) -> str:
        """Report key of a suite: its name, with ``[model]`` when the run has several models."""
        models = {m for _, m in self.suites}
        return suite if len(models) <= 1 else f"{suite}[{model}]"

    def suites_json(self) -> dict[str, Any]:
        out = {}
        ab = self._ab()
        for (suite, model), totals in sorted(self.suites.items()):
            entry = out[self.suite_key(suite, model)] = totals.as_dict()
            if (suite, model) in ab:
                entry["metrics"]["ab"] = ab[(suite, model)]
        return out

    def _ab(self) -> dict[tuple[str, str], Any]:
        """The A/B comparisons, folded once per number of records (the summary asks again)."""
        if self._ab_results is None or self._ab_results[0] != len(self._index):
            self._ab_results = (len(self._index), self.ab.results(self.suite_key))
        return self._ab_results[1]

    def _cases(self) -> Iterator[bytes]:
        if self._spool is None:
            return
        for _, offset, length in sorted(self._index):
            self._spool.seek(offset)
            yield self._spool.read(length)

    def header(self, run: dict[str, Any]) -> dict[str, Any]:
        """Everything in the report but the cases: what gates are evaluated on."""
        return {"schema_version": SCHEMA_VERSION, "run": run, "suites": self.suites_json()}

    def write(self, path: Path, header: dict[str, Any]) -> Path:
        """Write ``header`` plus the cases atomically (temp file + rename); return the path."""
        return write_atomic(path, self._chunks(header))

    def _chunks(self, header: dict[str, Any]) -> Iterator[bytes]:
        head = json.dumps(header, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")
        yield head[:-1].rstrip() + b',\n "cases": ['  # reopen the object to stream the cases
        for position, case in enumerate(self._cases()):
            yield b"\n  " if position == 0 else b",\n  "
            yield case
        yield b"\n ]\n}\n"

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
            self._spool_size = 0
