"""The ``regression`` suite kind: a candidate against a baseline on a golden set.

Each case scores the candidate's output with every configured metric and, when the run
compares (``--llm-baseline DIR`` or ``--llm-baseline-model SPEC``), the baseline's output
for the same row too. The case itself passes unless something broke: whether the
candidate regressed is a statistical question about the whole suite, answered by the
aggregator (paired bootstrap, McNemar, Holm) and turned into a failed run by the session
when a gated metric is ``regressed``. See ``docs/regression.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmops.core.baseline import baseline_path
from pytest_llmops.providers.base import Generation, InfraError
from pytest_llmops.suites.kinds import (
    Aggregator,
    CaseRun,
    Evaluation,
    Fail,
    ReportFace,
    SuiteKind,
    error_reason,
    rate_summary,
)
from pytest_llmops.checks.fluency import shared_fluency_scorer
from pytest_llmops.suites.regression.aggregate import RegressionAggregator
from pytest_llmops.suites.regression.agreement import AgreementSpec
from pytest_llmops.suites.regression.scoring import score_answers
from pytest_llmops.suites.regression.judging import (
    SuiteJudge,
    check_unstable,
    judge_errors,
    judge_record,
    parse_judge_settings,
    peeked_answers,
    prefetch_judgements,
)
from pytest_llmops.suites.regression.golden import GoldenError, GoldenRow, GoldenSet, inline_dataset, load_dataset
from pytest_llmops.suites.regression.metrics import (
    BUILTIN_METRICS,
    DEEPEVAL_PREFIX,
    DEFAULT_TOLERANCE,
    MetricContext,
    MetricSpec,
    Tolerance,
    required_field,
    row_has,
)
from pytest_llmops.suites.suite_file import CaseSpec, _LineLoader

if TYPE_CHECKING:
    from pytest_llmops.suites.suite_file import SuiteSpec

_METRIC_OPTIONS = {"threshold", "gate", "tolerance"}


class BaselineMismatch(Exception):
    """The stored baseline was made on different data: comparing would be meaningless."""


@dataclass(frozen=True)
class DecisionFace(ReportFace):
    """A regression suite's face: its three-way decision, which is a word, not a rate."""

    def summary(self, metrics: dict[str, Any]) -> str:
        """``decision non_inferior``; the pass rate when the suite reached no decision."""
        decision = metrics.get(self.headline)
        if isinstance(decision, str):
            return f"{self.label} {decision}"
        return rate_summary("pass rate", metrics.get("pass_rate"))


class RegressionKind(SuiteKind):
    """Golden-set scoring with paired candidate-vs-baseline statistics."""

    name = "regression"
    extra_keys = frozenset({"dataset", "metrics", "tolerance", "judge", "agreement", "judge_repeats",
                            "judge_temperature"})
    uses_baseline_model = True
    keep_whole = True  # baseline checks and stale-case detection need the whole suite in one run
    face: ReportFace = DecisionFace(headline="decision", label="decision")

    def __init__(self) -> None:
        #: (run, suite, model) whose answers were fluency-scored in bulk
        self._fluency_prefetched: set[tuple[int, str, str]] = set()
        #: (run, suite, model) -> its judge, with the DeepEval scores of the suite's answers
        self._judges: dict[tuple[int, str, str], SuiteJudge] = {}

    # -- collection ------------------------------------------------------------------------
    def parse(self, data: dict[str, Any], suite: "SuiteSpec", parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        if suite.subject == "rag":
            raise fail("subject", "regression suites compare 'model' or 'prompt' subjects")
        if data.get("defaults"):
            raise fail("defaults", "regression cases are scored by 'metrics', not by checks")
        golden = self._dataset(data, suite, fail)
        try:
            tolerance = Tolerance.parse(data.get("tolerance", DEFAULT_TOLERANCE))
        except ValueError as exc:
            raise fail("tolerance", f"the largest acceptable drop: {exc}") from None
        try:
            agreement = AgreementSpec.parse(data.get("agreement"))
        except ValueError as exc:
            raise fail("agreement", str(exc)) from None
        metrics = self._metrics(data.get("metrics"), tolerance, fail)
        for spec in metrics:
            needed = required_field(spec.name)
            missing = [row for row in golden.rows if not row_has(row, needed)]
            if missing:
                raise fail("metrics", f"metric {spec.name!r} needs '{needed}' in every row; row "
                                      f"{missing[0].id!r} ({golden.source}:{missing[0].line}) has none")
        judge = data.get("judge")
        if judge is not None and not isinstance(judge, str):
            raise fail("judge", "expected a model spec or alias, e.g. 'smollm2'")
        if any(m.name.startswith(DEEPEVAL_PREFIX) for m in metrics) and judge is None:
            raise fail("judge", "DeepEval metrics need 'judge: SPEC', the model subject that grades them")
        judging = parse_judge_settings(data, fail)
        prompt_sha = _prompt_hash(suite)
        cases = []
        for index, row in enumerate(golden.rows):
            params = suite.params
            cases.append(CaseSpec(
                id=row.id, index=index, line=row.line if golden.source == str(suite.path) else getattr(data, "line", 1),
                input=row.input, vars=row.vars, system=row.system if row.system is not None else suite.system,
                checks=[], params=params, tags=row.tags,
                data={"row": row, "metrics": metrics, "dataset_sha256": golden.sha256, "dataset": golden.source,
                      "prompt_sha256": prompt_sha, "judge": judge, "agreement": agreement, **judging}))
        return cases

    @staticmethod
    def _dataset(data: dict[str, Any], suite: "SuiteSpec", fail: Fail) -> GoldenSet:
        has_file, has_inline = "dataset" in data, "cases" in data
        if has_file == has_inline:
            raise fail("dataset", "give the golden rows either as 'dataset: PATH' (JSONL or YAML, relative to "
                                  "this file) or inline under 'cases:'")
        try:
            if has_inline:
                return inline_dataset(data["cases"], str(suite.path), getattr(data, "line", 1))
            value = data["dataset"]
            if not isinstance(value, str) or not value.strip():
                raise fail("dataset", "expected a path to a .jsonl or .yaml file")
            path = (suite.path.parent / value).resolve()
            if not path.is_file():
                raise fail("dataset", f"{path} does not exist")
            return load_dataset(path, _LineLoader)
        except GoldenError as exc:
            raise fail("dataset", str(exc)) from None

    @staticmethod
    def _metrics(raw: Any, tolerance: Tolerance, fail: Fail) -> list[MetricSpec]:
        known = sorted(BUILTIN_METRICS) + [f"{DEEPEVAL_PREFIX}NAME"]
        if not isinstance(raw, list) or not raw:
            raise fail("metrics", f"expected a non-empty list of metrics, from: {', '.join(known)}")
        out: list[MetricSpec] = []
        for position, item in enumerate(raw):
            label = f"metrics[{position}]"
            options: dict[str, Any] = {}
            if isinstance(item, dict) and len(item) == 1:
                (name, options), = item.items()
                options = options or {}
            else:
                name = item
            if not isinstance(name, str) or not isinstance(options, dict):
                raise fail(label, "expected a metric name or '{name: {threshold, gate, tolerance}}'")
            if name.startswith(DEEPEVAL_PREFIX):
                # deepeval bridge: only for suites that name a DeepEval metric (it imports deepeval).
                from pytest_llmops.integrations.deepeval import bridge as deepeval_bridge

                short = name[len(DEEPEVAL_PREFIX):]
                try:
                    extra = deepeval_bridge.validate_metric(short, {k: v for k, v in options.items()
                                                                    if k not in _METRIC_OPTIONS})
                except ValueError as exc:
                    raise fail(f"{label}.{name}", str(exc)) from None
                if "retrieval_context" in deepeval_bridge._needed_fields(short, extra):
                    raise fail(f"{label}.{name}", "needs a retrieval context, which golden rows do not have; "
                                                  "use metrics that judge input, output and expected output")
                default_threshold = 0.5
            elif name in BUILTIN_METRICS:
                unknown = set(options) - _METRIC_OPTIONS
                if unknown:
                    raise fail(f"{label}.{name}", f"unknown option {sorted(unknown)[0]!r}; expected "
                                                  f"{sorted(_METRIC_OPTIONS)}")
                extra = {}
                default_threshold = BUILTIN_METRICS[name][1]
            else:
                raise fail(label, f"unknown metric {name!r}; known: {', '.join(known)}")
            threshold = options.get("threshold", default_threshold)
            metric_tolerance = tolerance
            gate = options.get("gate", True)
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
                raise fail(f"{label}.{name}.threshold", f"expected a number in [0, 1], got {threshold!r}")
            if "tolerance" in options:
                try:
                    metric_tolerance = Tolerance.parse(options["tolerance"])
                except ValueError as exc:
                    raise fail(f"{label}.{name}.tolerance", str(exc)) from None
            if not isinstance(gate, bool):
                raise fail(f"{label}.{name}.gate", "expected true or false")
            if any(m.name == name for m in out):
                raise fail(label, f"metric {name!r} is listed twice")
            out.append(MetricSpec(name=name, threshold=float(threshold), gate=gate,
                                  tolerance=metric_tolerance, options=extra))
        return out

    # -- running -----------------------------------------------------------------------------
    def check_ready(self, case: CaseRun) -> None:
        """Refuse to compare against a stored baseline made on another dataset."""
        run = case.run
        if run.baseline_dir is None:
            return
        baseline = run.baseline_for(case.suite_name)  # BaselineError names the file and the fix
        stored = baseline.get("provenance", {}).get("dataset_sha256")
        mine = case.case.data["dataset_sha256"]
        if stored != mine:
            raise BaselineMismatch(
                f"refusing to compare suite {case.suite_name!r}: its dataset ({case.case.data['dataset']}, sha256 "
                f"{mine[:12]}) differs from the baseline's (sha256 {str(stored)[:12]}) in "
                f"{run.baseline_dir}; rewrite the baseline with --llm-update-baseline on the current dataset")

    def evaluate(self, case: CaseRun, generations: list[Generation], measurement: Any = None) -> Evaluation:
        """Score the candidate's output (and the baseline's for the same row); the case passes."""
        data = case.case.data
        row: GoldenRow = data["row"]
        metrics: list[MetricSpec] = data["metrics"]
        context = MetricContext(input_text=row.input or json.dumps(row.vars, sort_keys=True))
        output = generations[0].text
        baseline = self._baseline_output(case)
        suite_judge = self._suite_judge(case) if data.get("judge") else None
        if suite_judge is not None:
            context.suite_judge, context.judge_name = suite_judge, suite_judge.judge.name
            if case.suite_complete and not suite_judge.bulk_judged:
                suite_judge.bulk_judged = True
                prefetch_judgements(case, suite_judge, metrics, baseline is not None,
                                    [output, baseline[1] if baseline is not None else None])
        agreement: AgreementSpec = data.get("agreement") or AgreementSpec()
        compared = baseline is not None and baseline[1] is not None
        fluency_of: dict[str, float] = {}
        scored = any(m.name == "fluency" for m in metrics)
        # The agreement needs fluency only where the answers differ: equal answers are "same".
        changed = compared and agreement.enabled and output.strip() != baseline[1].strip()  # type: ignore[index]
        if scored or changed:
            # Candidate and baseline answers are scored in one batch, through the score cache.
            answers = [output] + ([baseline[1]] if compared else [])  # type: ignore[index]
            messages = self.plan(case)[0].message_dicts()
            scorer = shared_fluency_scorer(case.run.cache_dir, _score_cache_mode(case))
            self._prefetch_fluency(case, scorer, compared, every_answer=scored)
            fluency_of = dict(zip(answers, scorer.score_many([(messages, a) for a in answers])))
            context.fluency = fluency_of.__getitem__
        baseline_output = baseline[1] if compared else None  # type: ignore[index]
        try:
            scored = score_answers(metrics, row, output, baseline_output, context, agreement, _embedding_cosine)
            check_unstable(context.judgements)
        except judge_errors() as exc:
            if suite_judge is None:
                raise
            # A judge that failed or wavered: no verdict for this case, and the record says why.
            return Evaluation(outcome="error", failure=error_reason(exc),
                              fields={"judge": judge_record(suite_judge, context.judgements, exc)})
        result: dict[str, Any] = {
            "status": "no_baseline",
            **scored,
            "metrics_config": {m.name: m.config() for m in metrics},
            "suite_complete": case.suite_complete,
            "seed": case.suite.params.seed,
            "provenance": {"model": case.alias, "fingerprint": case.run.fingerprint(case.alias),
                           "dataset_sha256": data["dataset_sha256"], "prompt_sha256": data["prompt_sha256"],
                           "generation": case.case.params.as_dict()},
        }
        if baseline is not None:
            result["baseline_source"] = baseline[0]
            if baseline[0].startswith("file:"):
                result["baseline_file"] = str(_baseline_file(case))  # the controller re-reads it for stale cases
            result["status"] = "compared" if compared else "new"
        fields: dict[str, Any] = {"regression": result, "suite_complete": result["suite_complete"]}
        if suite_judge is not None:
            fields["judge"] = judge_record(suite_judge, context.judgements, None)
        # suite_complete at the top of the record: the baseline writer merges partial runs.
        return Evaluation(outcome="passed", fields=fields)

    def _suite_judge(self, case: CaseRun) -> SuiteJudge:
        """The suite's judge on this model, made on its first case."""
        key = (id(case.run), case.suite_name, case.alias)
        if key not in self._judges:
            data = case.case.data
            judge = case.run.judge(data["judge"], data.get("judge_temperature"))
            self._judges[key] = SuiteJudge(judge, data.get("judge_repeats", 1))
        return self._judges[key]

    def _prefetch_fluency(self, case: CaseRun, scorer: Any, with_baseline: bool, every_answer: bool) -> None:
        """Score the answers of a wholly selected suite in one batched pass, on its first case.

        ``every_answer``: the suite scores fluency as a metric; otherwise only the pairs whose
        answers differ are scored (what the agreement verdict needs).

        The answers are already generated (the session prefetches each model's requests), so
        this costs one padded batch per 16 answers instead of a forward pass per case. Later
        cases find their scores in the scorer's cache. Under ``-k`` cases are scored one by one.
        The answers are peeked at, not taken: each case still takes its own (taking them here
        made every case generate its answer again, one by one, under ``--llm-cache=off``).
        """
        key = (id(case.run), case.suite_name, case.alias)
        if not case.suite_complete or key in self._fluency_prefetched:
            return
        self._fluency_prefetched.add(key)
        runs = [replace(case, case=other) for other in case.suite.cases]
        requests = [run.request() for run in runs]
        answers = peeked_answers(case, runs, with_baseline)
        items: list[tuple[Any, str]] = []
        for index, request in enumerate(requests):
            mine = [side[index] for side in answers if side[index] is not None]
            if every_answer or (len(mine) == 2 and mine[0].strip() != mine[1].strip()):
                items.extend((request.message_dicts(), text) for text in mine)
        scorer.score_many(items)

    def _baseline_output(self, case: CaseRun) -> tuple[str, str | None] | None:
        """``(source, output)`` of the baseline for this case; output ``None`` for a new case."""
        run = case.run
        if run.baseline_alias is not None:
            run.ensure_prefetched(run.baseline_alias)  # every baseline answer in one batched pass
            result = run.generate(run.baseline_alias, self.plan(case))[0]
            if isinstance(result, InfraError):
                raise result  # the baseline could not be asked: an infra error, not a regression
            return f"model:{run.baseline_spec.raw}", result.text
        if run.baseline_dir is not None:
            baseline = run.baseline_for(case.suite_name)
            entry = baseline["cases"].get(case.case.id)
            return f"file:{run.relative_path(_baseline_file(case))}", entry.get("output") if entry else None
        return None

    def baseline_entry(self, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        result = record.get("regression")
        if record.get("outcome") != "passed" or not isinstance(result, dict):
            return None  # errored cases have no output to compare against
        return result["provenance"], {"output": record.get("output"), "scores": result["scores"],
                                      "passed": result["passed"]}

    def aggregator(self) -> Aggregator:
        return RegressionAggregator()


def _embedding_cosine(a: str, b: str) -> float:
    from pytest_llmops.checks.embeddings import shared_embedder  # loads all-MiniLM-L6-v2

    return shared_embedder().cosine(a, b)


def _score_cache_mode(case: CaseRun) -> str:
    """The score cache follows ``--llm-cache`` when the run context says it."""
    return str(getattr(case.run, "cache_mode", "rw"))


def _baseline_file(case: CaseRun) -> Path:
    return baseline_path(Path(case.run.baseline_dir), case.suite_name)


def _prompt_hash(suite: "SuiteSpec") -> str:
    """What turns a row into messages: the system prompt, the template and generation settings."""
    parts = [suite.system or "", suite.prompt.read_text(encoding="utf-8") if suite.prompt else "",
             json.dumps(suite.params.as_dict(), sort_keys=True)]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


KIND = RegressionKind()
