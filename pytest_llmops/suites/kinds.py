"""Suite kinds: what a YAML suite's cases ask the model and how their outputs are judged.

Every kind (functional, adversarial, metamorphic, regression, latency, or one a plugin
registers through ``llmops_register_suite_kinds``) answers four questions:

- ``parse``: which cases a suite file holds (written out, or generated from a config such
  as "these attacks with these strategies"), validated at collection time;
- ``requests``: what each case asks the model (one or more requests, all prefetched and
  batched with the rest of the run);
- ``evaluate``: given the generations, did the case pass, with checks and evidence;
- ``aggregator``: suite metrics folded from records on the controller (so they work
  under xdist, where only records reach it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pytest_llmops.providers.base import Generation, GenerationRequest

if TYPE_CHECKING:
    from pytest_llmops.suites.items import CaseItem
    from pytest_llmops.suites.suite_file import CaseSpec, SuiteSpec

Fail = Callable[..., Exception]


@dataclass
class Evaluation:
    """A case's verdict: outcome passed/failed, check results and extra record fields."""

    outcome: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    failure: str = ""  # shown in pytest's failure report when the outcome is "failed"


class Aggregator:
    """Folds a suite's records into metrics; the base class adds none beyond the pass rate."""

    def add(self, record: dict[str, Any]) -> None:
        """Called once per record of the suite (any outcome)."""

    def metrics(self) -> dict[str, Any]:
        """Metrics merged into the suite's ``metrics`` in the report."""
        return {}


class SuiteKind:
    """The functional kind, and the base other kinds override."""

    name = "functional"
    #: extra top-level YAML keys this kind accepts (validated by the kind's ``parse``)
    extra_keys: frozenset[str] = frozenset()
    #: whether ``--llm-baseline-model`` answers this kind's requests too (prefetched in bulk)
    uses_baseline_model: bool = False

    def prepare(self, item: "CaseItem") -> None:
        """Called at the start of each case's setup, before anything is generated.

        Raise to error the case without spending generation time (a missing or mismatched
        baseline, say); the message becomes the case's error.
        """

    def baseline_entry(self, record: dict[str, Any]) -> "tuple[dict[str, Any], dict[str, Any]] | None":
        """``(provenance, case entry)`` to store for ``record`` under ``--llm-update-baseline``.

        Called on the controller for every record of this kind; ``None`` stores nothing (the
        default: only kinds that compare against baselines store them).
        """
        return None

    def parse(self, data: dict[str, Any], suite: "SuiteSpec", parse_cases: Callable[[], list["CaseSpec"]],
              fail: Fail, registry: Any) -> list["CaseSpec"]:
        """The suite's cases. The default reads the ``cases:`` list as written.

        ``fail(field, why)`` builds the collection error for a top-level field; ``registry``
        holds the checks and the kinds' extensions (``registry.extensions["attacks"]``...);
        ``suite.params.seed`` is the run's ``--llm-seed`` unless the file overrides it.
        """
        return parse_cases()

    def requests(self, item: "CaseItem") -> list[GenerationRequest]:
        """What the case asks the model; the default is its one rendered request."""
        return [item.request()]

    def evaluate(self, item: "CaseItem", generations: list[Generation]) -> Evaluation:
        """Run the case's checks on its (single) output."""
        output = generations[0].text
        context = {"case": item.case, "suite": item.suite, "contexts": item.rag_contexts}
        checks = item.llmops.registry.checks
        results = [checks[c.name].evaluate(output, c.arg, context) for c in item.case.checks]
        failed = [r for r in results if not r.passed]
        return Evaluation(outcome="failed" if failed else "passed", checks=[r.as_dict() for r in results],
                          failure="\n".join(f"{r.name}: {r.evidence}" for r in failed))

    def aggregator(self) -> Aggregator:
        return Aggregator()


FUNCTIONAL = SuiteKind()
