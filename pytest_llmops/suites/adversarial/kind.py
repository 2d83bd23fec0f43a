"""The ``adversarial`` suite kind: cases generated from attacks x strategies, judged by detectors.

A case's outcome says whether the subject resisted: ``passed`` when the attack failed,
``failed`` when it succeeded. A successful attack is a measurement, not a broken test: unless
the suite sets ``fail_on_success: true`` the evaluation carries ``measured`` (pytest shows an
xfail, the run still exits 0) and the gate on ``attack_success_rate`` decides. The record
keeps ``outcome: failed`` and ``attack_succeeded: true`` either way.

Parsing the suite file and generating its cases is in :mod:`.parse`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmops.providers.base import Generation
from pytest_llmops.suites.adversarial.aggregate import AdversarialAggregator
from pytest_llmops.suites.adversarial.benign import benign_hits
from pytest_llmops.suites.adversarial.detectors import normalize
from pytest_llmops.suites.adversarial.parse import parse_adversarial_cases
from pytest_llmops.suites.kinds import Aggregator, CaseRun, Evaluation, Fail, ReportFace, SuiteKind
from pytest_llmops.suites.suite_file import CaseSpec

if TYPE_CHECKING:
    from pytest_llmops.suites.suite_file import SuiteSpec


class AdversarialKind(SuiteKind):
    """See ``docs/adversarial.md`` for the YAML format."""

    name = "adversarial"
    extra_keys = frozenset({"attacks", "strategies", "cases_per_category", "seed", "split", "fail_on_success",
                            "fixtures", "benign_outputs", "corpus", "rag_top_k", "baseline", "vars"})
    face = ReportFace(headline="attack_success_rate", label="attack success", direction="lower",
                      lower_is_better=("attack_success_rate",), breakdown="by_category")

    def parse(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        return parse_adversarial_cases(data, suite, parse_cases, fail, registry)

    def evaluate(self, case: CaseRun, generations: list[Generation], measurement: Any = None) -> Evaluation:
        """Run the case's detectors on the output (or, for a hand-written case, its checks)."""
        data = case.case.data
        if data.get("hand_written"):
            return self._evaluate_hand_written(case, generations)
        output = generations[0].text if generations else ""
        detectors = case.run.registry.extensions.get("detectors", {})
        detections = []
        checks = []
        deciding: dict[str, Any] | None = None
        succeeded = False
        for use in data["detectors"]:
            detection = detectors[use["name"]].detect(output, use["args"])
            shown = detection.as_dict()
            shown["success_when"] = use["success_when"]
            if use["success_when"] == "fires":
                success = detection.fired
            else:
                success = not detection.fired and bool(output.strip())
                if success:
                    shown.setdefault("excerpt", output[:160].replace("\n", " "))
            shown["attack_succeeded"] = success
            detections.append(shown)
            checks.append({"name": use["name"], "passed": not success, "score": float(not success),
                           "evidence": describe_evidence(shown, named=False), "arg": use["args"]})
            if success and not succeeded:
                succeeded, deciding = True, shown
        evidence = deciding or (detections[0] if detections else {})
        if succeeded and _echoes_input(output, evidence, case.case.input or ""):
            evidence["echoes_input"] = True  # the match sits in text the subject copied from its input
        fields: dict[str, Any] = {
            "attack": data["attack"], "category": data["category"], "strategy": data["strategy"],
            "goal": data["goal"], "detector": "+".join(u["name"] for u in data["detectors"]),
            "attack_succeeded": succeeded, "evidence": evidence, "detections": detections,
            "payload": data["payload"], "subject": data["subject"], "attack_meta": data.get("meta") or {},
        }
        for key in ("position", "contexts", "prompt_version", "variant", "role", "pair"):
            if key in data:
                fields[key] = data[key]
        if data.get("benign_outputs"):
            fields["benign_fp"] = benign_hits(Path(data["benign_outputs"]),
                                              [(detectors[u["name"]], u["args"]) for u in data["detectors"]])
        if not succeeded:
            return Evaluation("passed", checks=checks, fields=fields)
        why = describe_evidence(evidence)
        failure = f"attack succeeded ({data['attack']}, strategy {data['strategy']}): {data['goal']}\n{why}"
        return Evaluation("failed", checks=checks, fields=fields, failure=failure,
                          measured=successful_attack_reason(data, why))

    def _evaluate_hand_written(self, case: CaseRun, generations: list[Generation]) -> Evaluation:
        """A written-out case: its checks state the safe behaviour, so a failed check is a successful attack."""
        verdict = super().evaluate(case, generations)
        succeeded = verdict.outcome == "failed"
        failed = [c for c in verdict.checks if not c["passed"]]
        verdict.fields.update({
            "attack": "hand_written", "category": "hand_written", "strategy": "none",
            "goal": case.case.input or "", "detector": "checks", "attack_succeeded": succeeded,
            "evidence": {"detector": "checks", "fired": succeeded,
                         "matched": failed[0]["name"] if failed else None,
                         "note": "; ".join(f"{c['name']}: {c['evidence']}" for c in failed) or "every check passed"},
        })
        if succeeded:
            verdict.failure = f"attack succeeded (hand-written case): {verdict.failure}"
            verdict.measured = successful_attack_reason(case.case.data, verdict.failure)
        return verdict

    def aggregator(self) -> Aggregator:
        return AdversarialAggregator()


def successful_attack_reason(data: dict[str, Any], why: str) -> str | None:
    """The xfail reason of a successful attack: a measurement, not a broken test (the gate on
    attack_success_rate decides); ``None`` (a real failure) when the suite says ``fail_on_success``."""
    if data.get("fail_on_success"):
        return None
    return f"attack succeeded (measured by attack_success_rate): {why}"


def _echoes_input(output: str, evidence: dict[str, Any], user: str) -> bool:
    """Whether the matched string comes with the input text just before it (a parroted attack)."""
    offset, matched = evidence.get("offset"), evidence.get("matched")
    if offset is None or not matched or evidence.get("form") not in ("raw", "normalized"):
        return False
    window = output[max(0, offset - 24):offset + len(matched)]

    def flat(text: str) -> str:
        return " ".join(normalize(text)[0].split())

    return len(window) >= len(matched) + 12 and flat(window) in flat(user)


def describe_evidence(shown: dict[str, Any], named: bool = True) -> str:
    """One line for a detection: what matched, in which form and where, or the detector's note."""
    name = f"{shown.get('detector', '?')}: " if named else ""
    if shown.get("fired"):
        where = f" at {shown['offset']}" if shown.get("offset") is not None else ""
        form = f" ({shown['form']})" if shown.get("form") else ""
        decoded = f"; decoded: {shown['decoded'][:80]!r}" if shown.get("decoded") else ""
        text = f"{name}{shown.get('matched')!r}{form}{where}: …{shown.get('excerpt', '')}…{decoded}"
    else:
        text = f"{name}{shown.get('note') or 'nothing found'}"
    if shown.get("success_when") == "absent":
        text += " (the attack succeeds when this is absent)"
    return text
