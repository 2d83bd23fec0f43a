"""The ``metamorphic`` suite kind: relations that must hold between outputs.

A suite file lists relation blocks. Each block takes inputs (inline or from a fixture file),
makes follow-up inputs with one or more perturbations, and states the relation that must
hold between the source output and each follow-up output::

    kind: metamorphic
    lexicon: ../../fixtures/metamorphic/lexicon.yaml   # word lists some perturbations need
    relations:
      - family: typos                                   # the suite becomes metamorphic/typos
        perturbation: {typos: {max_edits: 2}}
        relation: {label-equality: {labels: [positive, negative]}}
        template: "Is this review positive or negative?\\nReview: {text}"
        inputs_from: ../../fixtures/metamorphic/sentiment.yaml

One case is one source input with its follow-ups; the case violates the relation when any
follow-up does. Perturbations run at collection time (they are seeded and need no model), so
a follow-up identical to its source is known before anything is generated: it is dropped,
and a case left with no follow-up is skipped and counted as ``noop_skipped``.

Violations are measured, not failed: the case passes and its record says
``violated: true``, and the suite's ``violation_rate`` counts them. ``fail_on_violation:
true`` (for the file or a block) makes a violation fail the test instead.
How a case runs: output relations plan the source and its follow-ups as generations (the
engine prefetches, batches and caches them) and are checked in ``evaluate``; model relations
(``batch-invariance``...) talk to the provider themselves in ``measure``, uncached. RAG suites
test the reader with contexts the suite controls, so their cases are planned generations too,
not answers of the suite's pipeline.

Modules: :mod:`.blocks` (collection), :mod:`.rendering` (samples into chat messages),
:mod:`.inputs` (inputs and lexicon), :mod:`.aggregate` (metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pytest_llmops.providers.base import Generation, GenerationRequest
from pytest_llmops.suites.kinds import (
    Aggregator,
    CaseRun,
    Evaluation,
    Fail,
    ReportFace,
    SuiteKind,
    error_reason,
)
from pytest_llmops.suites.metamorphic.aggregate import MetamorphicAggregator
from pytest_llmops.suites.metamorphic.blocks import TOP_KEYS, MetamorphicCase, parse_relation_blocks
from pytest_llmops.suites.metamorphic.core import CaseVerdict
from pytest_llmops.suites.metamorphic.perturbations import gold_position
from pytest_llmops.suites.metamorphic.relations import Pair, Verdict, is_correct

if TYPE_CHECKING:
    from pytest_llmops.suites.suite_file import CaseSpec, SuiteSpec


@dataclass
class DirectMeasurement:
    """What a model relation measured against the provider (``measure``), for ``evaluate``.

    ``error`` is an exception the measurement raised: it is kept for ``evaluate`` rather than
    raised in setup, so the case ends, as it always has, as an error record from the test's
    call phase (pytest: failed), not a setup error.
    """

    verdict: Verdict | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    error: Exception | None = None


class MetamorphicKind(SuiteKind):
    """Relation blocks whose cases compare a source output with its follow-ups' outputs."""

    name = "metamorphic"
    extra_keys = TOP_KEYS
    face = ReportFace(headline="violation_rate", label="violations", direction="lower",
                         lower_is_better=("violation_rate",))

    def parse(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        """One case per input of each ``relations:`` block (see :mod:`.blocks`)."""
        return parse_relation_blocks(data, suite, fail, registry)

    def through_pipeline(self, suite: SuiteSpec) -> bool:
        """Never: a ``subject: rag`` suite tests the reader with contexts it controls, as planned
        generations (prefetched, batched and cached like model cases); its records still say
        ``subject: rag``."""
        return False

    # -- running -------------------------------------------------------------------------
    def plan(self, case: CaseRun) -> list[GenerationRequest]:
        """The source and each live follow-up; nothing for model relations and no-op cases."""
        mm: MetamorphicCase = case.case.data["metamorphic"]
        if mm.relation.direct or not mm.followups:
            return []  # model relations ask the provider themselves; no-op cases ask nothing
        params = case.case.params
        return [GenerationRequest.chat(mm.source_messages, params),
                *(GenerationRequest.chat(f.rendered, params) for f in mm.followups)]

    def measure(self, case: CaseRun) -> DirectMeasurement | None:
        """Run a model relation against the provider (uncached: how it batches, pads and streams
        is what is tested); ``None`` for output relations."""
        mm: MetamorphicCase = case.case.data["metamorphic"]
        if not mm.relation.direct:
            return None
        try:
            provider = case.run.provider(case.alias)
            request = GenerationRequest.chat(mm.source_messages, case.case.params)
            verdict = mm.relation.run(provider, request, mm.relation_options)
        except Exception as exc:  # noqa: BLE001 - evaluate turns it into the case's error (see DirectMeasurement)
            return DirectMeasurement(error=exc)
        fields = {
            "direct": True,  # generated by the provider itself, not through the engine's cache
            "source": {"sample": recorded_sample(mm.source_sample)},
            "details": verdict.details,
            "output": next((verdict.details[k] for k in ("alone", "non_streamed", "output_2k")
                            if k in verdict.details), None),
        }
        return DirectMeasurement(verdict, fields)

    def evaluate(self, case: CaseRun, generations: list[Generation], measurement: Any = None) -> Evaluation:
        """Fold the relation's verdicts over the follow-ups; skipped when every follow-up was a no-op.

        A violation passes the case (``violated: true`` in its record, counted by
        ``violation_rate``) unless ``fail_on_violation`` is set.
        """
        mm: MetamorphicCase = case.case.data["metamorphic"]
        fields: dict[str, Any] = {
            "family": mm.family, "relation": mm.relation.name, "relation_family": mm.relation.family,
            "perturbations": mm.perturbations, "noop": False, "noop_followups": len(mm.noop),
        }
        groups = fairness_groups(mm)
        if groups:
            # a fairness swap's case is in the slice of the group it describes (female, male, ...):
            # the suite's bias slices report each group's held rate and the largest gap (docs/slices.md)
            fields.update(group=groups, slice_by={"group": "group", **case.suite.slices})
        if mm.noop and not mm.followups:
            fields.update(noop=True, violated=None, undecided=False, noop_changes=[f.summary() for f in mm.noop])
            names = ", ".join(sorted({f.perturbation for f in mm.noop}))
            return Evaluation("skipped", fields=fields, failure=f"no-op: {names} changed nothing in this input")
        try:
            if mm.relation.direct:
                assert isinstance(measurement, DirectMeasurement)
                if measurement.error is not None:
                    raise measurement.error
                fields.update(measurement.fields)
                verdicts = [measurement.verdict]
            else:
                verdicts = check_outputs(mm, generations, fields)
        except Exception as exc:  # noqa: BLE001 - checking broke: the case is an error, not a verdict
            # The record of an error is the bare one every kind gets (as before the protocol):
            # the metamorphic fields describe a verdict, and there is none.
            return Evaluation("error", failure=error_reason(exc))
        result = CaseVerdict(verdicts)
        fields.update(violated=result.violated, undecided=result.violated is None, evidence=result.evidence)
        checks = [{"name": mm.relation.name, "passed": v.holds is not False,
                   "score": 0.0 if v.holds is False else 1.0, "evidence": v.evidence,
                   "arg": {"perturbation": f.get("perturbation"), "variant": f.get("variant")}}
                  for v, f in zip(verdicts, fields.get("followups") or [{}])]
        failed = bool(result.violated) and mm.fail_on_violation
        return Evaluation(outcome="failed" if failed else "passed", checks=checks, fields=fields,
                          failure=f"{mm.relation.name} violated ({mm.family}): {result.evidence}")

    # -- on the controller -----------------------------------------------------------------
    def slice_outcome(self, record: dict[str, Any]) -> bool | None:
        """In bias slices a case passes when its relation held (a violation passes the test but not
        the slice); no-op, undecided and error cases are left out."""
        if record.get("outcome") not in ("passed", "failed"):
            return None
        if "violated" in record:
            return None if record["violated"] is None else not record["violated"]
        return record.get("outcome") == "passed"

    def aggregator(self) -> Aggregator:
        """Violation rate, no-op and undecided counts, position gap (see :mod:`.aggregate`)."""
        return MetamorphicAggregator()


def check_outputs(mm: MetamorphicCase, generations: list[Generation], fields: dict[str, Any]) -> list[Verdict]:
    """The relation's verdict on (source output, follow-up output) for each follow-up.

    Adds ``source``, ``followups`` (input, output, verdict and what changed for each) and, for
    context-order families, ``gold_positions`` to ``fields``.
    """
    texts = [g.text for g in generations]
    if len(texts) != 1 + len(mm.followups):
        raise RuntimeError(f"expected {1 + len(mm.followups)} generations, got {len(texts)}")
    source = texts[0]
    verdicts = []
    followups = []
    for followup, output in zip(mm.followups, texts[1:]):
        verdict = mm.relation.check(Pair(source, output, mm.source_sample, followup.sample,
                                         followup.perturbed.changes), mm.relation_options)
        verdicts.append(verdict)
        entry = {**followup.summary(), "input": followup.rendered, "output": output,
                 "holds": verdict.holds, "evidence": verdict.evidence}
        if verdict.details:
            entry["details"] = verdict.details
        followups.append(entry)
    fields["source"] = {"sample": recorded_sample(mm.source_sample), "output": source}
    fields["followups"] = followups
    if mm.context_order:
        fields["gold_positions"] = [
            {"position": gold_position(sample), "correct": is_correct(output, sample)}
            for sample, output in [(mm.source_sample, source),
                                   *((f.sample, o) for f, o in zip(mm.followups, texts[1:]))]]
    return verdicts


def fairness_groups(mm: MetamorphicCase) -> list[str]:
    """The ``fairness_group`` labels of the case's live follow-ups' changes, in first-seen order."""
    labels: list[str] = []
    for followup in mm.followups:
        for change in followup.perturbed.changes or []:
            label = change.get("fairness_group") if isinstance(change, dict) else None
            if isinstance(label, str) and label not in labels:
                labels.append(label)
    return labels


def recorded_sample(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample as recorded (without the RAG distractor pool, which can be long)."""
    return {k: v for k, v in sample.items() if k != "pool"}


KIND = MetamorphicKind()
