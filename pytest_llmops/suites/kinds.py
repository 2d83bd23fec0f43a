"""The suite-kind protocol: everything the run asks of a kind, in one place.

A kind (functional, adversarial, metamorphic, regression, latency, garak, or one a plugin
registers through ``llmops_register_suite_kinds``) takes part in a case's life like this:

1. ``parse``        collection: the suite file's cases (written out, or generated from config);
2. ``check_ready``  setup, before anything is generated: raise to error the case at no cost
                    (a missing or mismatched baseline, say);
3. ``plan``         the requests the engine prefetches, batches and caches for the case;
4. ``measure``      for kinds that must talk to the provider themselves (timing, garak, model
                    relations): runs at setup, after the plan's generations; its result is
                    handed to ``evaluate``. It may instead return an :class:`Evaluation` that
                    ends the case there (skipped, or error);
5. ``evaluate``     the verdict, returned as an :class:`Evaluation`: passed, failed, error or
                    skipped, or failed-and-``measured`` (a successful attack, a violation: an
                    xfail in pytest, counted by the kind's metrics, never a broken test);
6. ``aggregator``   suite metrics folded on the controller from records alone, so they are the
                    same under xdist and can be recomputed from a finished report's records.

A kind also declares its report face (:class:`ReportFace`): its headline metric, whether
lower or higher is better, its unit and how it reads in one line. The terminal, Markdown
and HTML reports show every kind through its face; none of them knows a kind by name.

A kind never sees the pytest item or the session: it gets a :class:`CaseRun` (the case, its
suite and model) whose ``run`` is a :class:`RunContext`, the narrow view of the run a kind
may use (engine, subjects, baselines, settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.report.faces import COMMON_LOWER_IS_BETTER, metric_at, rate_summary
from pytest_llmops.report.slices import outcome_passed
from pytest_llmops.suites.repeats import failure_text, needed, repeat_fields, sample_requests
from pytest_llmops.suites.repeats_metrics import RepeatsAggregator
from pytest_llmops.suites.suite_file import CaseSpec, SuiteSpec

Fail = Callable[..., Exception]
OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass
class Evaluation:
    """A case's verdict and what its record adds.

    ``failure`` is the reason shown for a failed, error or skipped case. A failed case with
    ``measured`` set is a measurement (a successful attack, a relation violation): pytest
    shows it as xfail with that reason, the report keeps it as ``failed``.
    ``shown`` is the answer that stands for the case in its record and failure report when
    it is not the first planned generation (a timed answer, say).
    """

    outcome: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    failure: str = ""
    measured: str | None = None
    shown: Generation | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"Evaluation outcome {self.outcome!r}: expected one of {OUTCOMES}")


def error_reason(exc: BaseException) -> str:
    """How a case's record names an exception that ended it: an infra error (never the model's
    fault) or an error of the harness, with the exception's message."""
    label = "infra error" if isinstance(exc, InfraError) else f"error: {type(exc).__name__}"
    return f"{label}: {exc}"


class Aggregator:
    """Folds a suite's records into metrics; the base class adds none beyond the pass rate."""

    def add(self, record: dict[str, Any]) -> None:
        """Called once per record of the suite (any outcome)."""

    def metrics(self) -> dict[str, Any]:
        """Metrics merged into the suite's ``metrics`` in the report."""
        return {}


@dataclass(frozen=True)
class ReportFace:
    """How a kind's suites show in the terminal, Markdown and HTML reports.

    ``headline`` is a dotted path into the suite's metrics whose value is a rate-like dict
    (``value``, ``ci95``); ``direction`` says whether ``higher`` or ``lower`` is better;
    ``lower_is_better`` names further metrics (matched as substrings of metric names) whose
    smaller values are the better ones, for diffs and delta charts; ``breakdown`` names a key
    of the headline metric holding per-group rates (``by_category``) to chart.
    Override :meth:`summary` for a headline that is not a rate.
    """

    headline: str = "pass_rate"
    label: str = "pass rate"
    direction: str = "higher"
    unit: str = ""
    lower_is_better: tuple[str, ...] = ()
    breakdown: str = ""

    def summary(self, metrics: dict[str, Any]) -> str:
        """One line for the terminal table: ``label value [lo, hi]`` (the pass rate without a headline)."""
        rate = metric_at(metrics, self.headline)
        if isinstance(rate, dict) and "ci95" in rate:
            return rate_summary(self.label, rate)
        return rate_summary("pass rate", metrics.get("pass_rate"))

    def as_dict(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """The face as written into a report's suite entry (renderers read only this,
        through :mod:`pytest_llmops.report.faces`)."""
        return {"headline": self.headline, "label": self.label, "direction": self.direction, "unit": self.unit,
                "lower_is_better": sorted({*COMMON_LOWER_IS_BETTER, *self.lower_is_better}),
                "breakdown": self.breakdown, "summary": self.summary(metrics)}


class RunContext(Protocol):
    """The run as a kind sees it: generation, subjects, baselines and the settings kinds need."""

    rootdir: Path
    cache_dir: Path
    cache_mode: str  # --llm-cache: rw, read, off or refresh
    gate_env: str
    seed: int
    registry: Any  # core.registry.Registry: checks and the kinds' extension tables

    @property
    def baseline_alias(self) -> str | None:
        """The engine alias of ``--llm-baseline-model``, if given."""

    @property
    def baseline_spec(self) -> Any:
        """The ``--llm-baseline-model`` spec, if given."""

    @property
    def baseline_dir(self) -> Path | None:
        """The ``--llm-baseline`` folder, if given."""

    def baseline_for(self, suite: str) -> dict[str, Any]:
        """The stored baseline of ``suite``; raises ``BaselineError`` naming the file."""

    def generate(self, alias: str, requests: list[GenerationRequest]) -> list[Any]:
        """Generations (or ``InfraError`` values) through the engine and its cache."""

    def ensure_prefetched(self, alias: str) -> None:
        """Generate every planned request of ``alias`` in bulk, once."""

    def peek(self, alias: str, requests: list[GenerationRequest]) -> list[Any]:
        """The prefetched results of ``requests`` (``None`` where none is ready), left for their cases."""

    def provider(self, alias: str) -> Any:
        """The model's provider, for kinds that measure it themselves."""

    def fingerprint(self, alias: str) -> str:
        """What identifies the model's weights and settings."""

    def describe(self, alias: str) -> dict[str, Any]:
        """The model's provider facts (device, GPU) for records."""

    def price_for(self, alias: str) -> Any:
        """The model's :class:`~pytest_llmops.core.pricing.Price` from the run's price table, or None."""

    def judge(self, spec_or_alias: str) -> tuple[Callable[[str], str], str]:
        """``(prompt -> text, name)`` for a grading model."""

    def template(self, path: Path) -> Any:
        """A prompt template, loaded once per run."""

    def relative_path(self, path: Any) -> str:
        """``path`` relative to the rootdir when inside it."""


@dataclass
class CaseRun:
    """One case of a suite against one model, as handed to its kind."""

    suite: SuiteSpec
    case: CaseSpec
    alias: str
    suite_name: str
    run: RunContext
    kind: SuiteKind
    #: every case of this suite file was selected for this model (not narrowed by -k)
    suite_complete: bool = True
    #: contexts the RAG pipeline retrieved for this case (pipeline cases only)
    rag_contexts: list[str] | None = None

    def request(self) -> GenerationRequest:
        """The case's one rendered request (template, system prompt and generation settings)."""
        case = self.case
        if self.suite.subject == "prompt":
            assert self.suite.prompt is not None
            variables = dict(case.vars)
            if case.input is not None:
                variables.setdefault("input", case.input)
            messages = self.run.template(self.suite.prompt).render(**variables)
            if case.system and not any(m["role"] == "system" for m in messages):
                messages.insert(0, {"role": "system", "content": case.system})
            return GenerationRequest.chat(messages, case.params)
        assert case.input is not None
        return GenerationRequest.prompt(case.input, system=case.system, params=case.params)


class SuiteKind:
    """The functional kind, and the base every kind extends (see the module docstring)."""

    name = "functional"
    #: extra top-level YAML keys this kind accepts (validated by the kind's ``parse``)
    extra_keys: frozenset[str] = frozenset()
    #: whether ``--llm-baseline-model`` answers this kind's requests too (prefetched in bulk)
    uses_baseline_model: bool = False
    #: whether ``--llm-shard`` keeps a suite of this kind whole in one shard (its checks or its
    #: measurement need every case in one run); otherwise its cases split across shards
    keep_whole: bool = False
    #: estimated cost of a case whose requests are not planned before it runs (``measure``
    #: kinds), in new tokens; planned cases cost their requests' ``max_new_tokens``
    measured_case_cost: float = 256.0
    #: whether ``repeats:``/``pass_if:`` apply (the base ``plan`` samples a case k times and the
    #: base ``evaluate`` judges every sample). Off by default and not inherited: a kind declares
    #: it only once it handles samples (``FunctionalKind`` does); other kinds' files refuse the
    #: keys, and ``--llm-repeats`` leaves their suites alone.
    supports_repeats: bool = False
    #: whether the kind's cases render the suite's template or system prompt when they are
    #: planned (``CaseRun.request``), so a suite may compare variants of them (``prompts:``,
    #: ``system_prompts:``, ``--llm-prompt-variant``); kinds that bake the prompt into their
    #: cases while parsing, or compare against stored baselines, leave it off
    prompt_variants: bool = False
    #: whether the kind reads answers that were already given (logged traffic) instead of asking
    #: a model: its suites get one item per case (not one per ``--llm-model``), and nothing is
    #: prefetched or loaded for them
    model_free: bool = False
    face: ReportFace = ReportFace()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.supports_repeats = bool(cls.__dict__.get("supports_repeats", False))

    # -- collection ----------------------------------------------------------------------
    def parse(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        """The suite's cases. The default reads the ``cases:`` list as written.

        ``fail(field, why)`` builds the collection error for a top-level field; ``registry``
        holds the checks and the kinds' extension tables (``registry.extensions["attacks"]``);
        ``suite.params.seed`` is the run's ``--llm-seed`` unless the file overrides it.
        """
        return parse_cases()

    def through_pipeline(self, suite: SuiteSpec) -> bool:
        """Whether the suite's cases are answered by its RAG pipeline rather than planned requests."""
        return suite.subject == "rag"

    # -- running -------------------------------------------------------------------------
    def check_ready(self, case: CaseRun) -> None:
        """Raise to error the case before anything is generated (the message is its error)."""

    def plan(self, case: CaseRun) -> list[GenerationRequest]:
        """What the case asks the model through the engine; the default is its one request,
        sampled ``repeats`` times (sample indices 0..k-1) when the case repeats."""
        return sample_requests(case.request(), case.case.repeats)

    def measure(self, case: CaseRun) -> Any:
        """Talk to the provider directly, for what the engine cannot do (default: nothing).

        Return what ``evaluate`` needs, or an :class:`Evaluation` that ends the case now.
        """
        return None

    def evaluate(self, case: CaseRun, generations: list[Generation], measurement: Any = None) -> Evaluation:
        """Run the case's checks on its output; on every sample when it repeats, the verdict
        then following its ``pass_if`` rule."""
        context = {"case": case.case, "suite": case.suite, "contexts": case.rag_contexts,
                   # what reference-free checks (fluency) condition on, and where they cache
                   "request": None if self.through_pipeline(case.suite) else case.request,
                   "cache_dir": case.run.cache_dir, "cache_mode": getattr(case.run, "cache_mode", "rw")}
        checks = case.run.registry.checks

        def judge(output: str) -> list[Any]:
            return [checks[c.name].evaluate(output, c.arg, context) for c in case.case.checks]

        if len(generations) <= 1:
            results = judge(generations[0].text)
            failed = [r for r in results if not r.passed]
            return Evaluation(outcome="failed" if failed else "passed", checks=[r.as_dict() for r in results],
                              failure="\n".join(f"{r.name}: {r.evidence}" for r in failed))
        samples = []
        for index, generation in enumerate(generations):
            results = judge(generation.text)
            samples.append({"index": index, "output": generation.text,
                            "outcome": "passed" if all(r.passed for r in results) else "failed",
                            "checks": [r.as_dict() for r in results]})
        rule = case.case.pass_if
        summary = repeat_fields(samples, rule)
        passed = summary["passed"] >= needed(rule, len(samples))
        # The record's output and checks are the first sample's, as for a single answer; every
        # sample is kept under "samples". Cached only when no sample had to be generated.
        return Evaluation(outcome="passed" if passed else "failed", checks=samples[0]["checks"],
                          fields={"repeats": summary, "samples": samples,
                                  "cached": all(g.cached for g in generations)},
                          failure="" if passed else failure_text(samples, rule))

    def shown_input(self, case: CaseRun) -> Any:
        """The case's input as its record shows it: the rendered messages, or the pipeline's question."""
        if self.through_pipeline(case.suite):
            return case.case.input
        return case.request().message_dicts()

    # -- on the controller -----------------------------------------------------------------
    def aggregator(self) -> Aggregator:
        """A fresh aggregator for one suite's records: the repeat metrics (pass fraction,
        pass@k, flakiness) when some case ran with more than one sample, else none."""
        return RepeatsAggregator()  # type: ignore[return-value]  # duck-typed Aggregator

    def slice_outcome(self, record: dict[str, Any]) -> bool | None:
        """Whether ``record`` counts as a pass in the suite's bias slices (``slices:``, ``--llm-slice``;
        report/slices.py): its outcome by default; ``None`` leaves it out (errors, skipped cases)."""
        return outcome_passed(record)

    def baseline_entry(self, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(provenance, case entry)`` to store for ``record`` under ``--llm-update-baseline``.

        ``None`` stores nothing (the default: only kinds that compare against baselines store them).
        """
        return None


class FunctionalKind(SuiteKind):
    """The functional kind: its cases render the suite's prompt at plan time, so variants apply,
    and it judges one answer per case with the base plan and evaluate, so repeats apply."""

    prompt_variants = True
    supports_repeats = True


FUNCTIONAL = FunctionalKind()


def kind_named(registry: Any, name: str) -> SuiteKind:
    """The registered kind called ``name``; the functional kind for a name no plugin registers
    (records of a report whose kind's plugin is not installed here still fold and show)."""
    return registry.kinds.get(name) or FUNCTIONAL
