"""The ``adversarial`` suite kind: cases generated from attacks x strategies, judged by detectors.

A case's pytest outcome says whether the subject resisted: ``passed`` when the attack
failed, ``failed`` when it succeeded. A successful attack is a measurement, not a broken
test: unless the suite sets ``fail_on_success: true`` it is marked ``xfail`` (pytest
prints ``x``, the run still exits 0) and the gate on ``attack_success_rate`` decides. The
record keeps ``outcome: failed`` and ``attack_succeeded: true`` either way.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmops.providers.base import Generation
from pytest_llmops.suites.adversarial.aggregate import AdversarialAggregator
from pytest_llmops.suites.adversarial.attacks import AttackCase, DetectorUse
from pytest_llmops.suites.adversarial.corpora import AttackContext, CorpusError, find_upwards
from pytest_llmops.suites.adversarial.render import DEFAULT_SYSTEM, Subject
from pytest_llmops.suites.kinds import Aggregator, Evaluation, Fail, SuiteKind
from pytest_llmops.suites.suite_file import CaseSpec

if TYPE_CHECKING:
    from pytest_llmops.suites.items import CaseItem
    from pytest_llmops.suites.suite_file import SuiteSpec

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
DEFAULT_CASES_PER_CATEGORY = 5


def _positive_int(value: Any, field: str, fail: Fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(field, f"expected a whole number of at least 1, got {value!r}")
    return value


def _path(data: dict[str, Any], key: str, suite: SuiteSpec, fail: Fail) -> Path | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(key, "expected a path (relative to this file)")
    path = (suite.path.parent / value).resolve()
    if not path.exists():
        raise fail(key, f"{path} does not exist")
    return path


class AdversarialKind(SuiteKind):
    """See ``docs/adversarial.md`` for the YAML format."""

    name = "adversarial"
    extra_keys = frozenset({"attacks", "strategies", "cases_per_category", "seed", "split", "fail_on_success",
                            "fixtures", "benign_outputs", "corpus", "rag_top_k", "baseline", "vars"})

    # -- collection ------------------------------------------------------------------------
    def parse(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
              fail: Fail, registry: Any) -> list[CaseSpec]:
        if registry is None:
            from pytest_llmops.suites.builtins import default_registry

            registry = default_registry()
        attacks_known = registry.extensions.get("attacks", {})
        strategies_known = registry.extensions.get("strategies", {})
        detectors_known = registry.extensions.get("detectors", {})
        top_line = getattr(data, "line", 1)
        if "cases" in data:
            return self._hand_written(data, suite, parse_cases, fail)
        if data.get("defaults"):
            raise fail("defaults", "adversarial cases are judged by their attack's detectors, not by checks")

        # fixtures, seed, counts, options
        fixtures = _path(data, "fixtures", suite, fail) or find_upwards(suite.path.parent, "fixtures/adversarial")
        if fixtures is None or not fixtures.is_dir():
            raise fail("fixtures", f"no fixtures/adversarial folder above {suite.path.parent}; set "
                                   "'fixtures: PATH' to the folder of payload corpora")
        seed = data.get("seed", suite.params.seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise fail("seed", f"expected an integer, got {seed!r}")
        per_category = _positive_int(data.get("cases_per_category", DEFAULT_CASES_PER_CATEGORY),
                                     "cases_per_category", fail)
        split = data.get("split", "category")
        if split not in ("category", "none"):
            raise fail("split", f"expected 'category' (one suite per attack category) or 'none', got {split!r}")
        fail_on_success = data.get("fail_on_success", False)
        if not isinstance(fail_on_success, bool):
            raise fail("fail_on_success", "expected true or false")
        top_k = _positive_int(data.get("rag_top_k", 2), "rag_top_k", fail)
        variables = data.get("vars") or {}
        if not isinstance(variables, dict):
            raise fail("vars", "expected a mapping of template variables")

        strategies = self._strategies(data.get("strategies", ["none"]), "strategies", strategies_known, fail)
        attacks = self._attacks(data.get("attacks"), attacks_known, strategies_known, fail)

        # benign outputs for the detectors' false-positive rates
        benign: Path | None
        if data.get("benign_outputs") is False:
            benign = None
        else:
            benign = _path(data, "benign_outputs", suite, fail)
            if benign is None and (fixtures / "benign_outputs.yaml").is_file():
                benign = fixtures / "benign_outputs.yaml"

        # the subject (and the baseline prompt, if any)
        declared = suite.subject
        needs_passages = declared == "rag" or any(a.category == "indirect_injection" or a.name == "indirect_injection"
                                                  for a, _, _, _ in attacks)
        corpus = _path(data, "corpus", suite, fail)
        passages = self._passages(corpus, suite, fail) if needs_passages else []
        variants = self._subjects(data, suite, declared, variables, passages, top_k, fail)
        # Every case is rendered here into one system + user request, so the items treat it
        # as a plain model case: prefetched, batched and cached (a RAG subject's retrieval
        # is reproduced in render.py; records still say which subject was declared).
        suite.subject = "model"

        counts = self._counts(attacks, per_category)
        cases: list[CaseSpec] = []
        for position, (attack, options, own_strategies, line) in enumerate(attacks):
            label = f"attacks[{position}].{attack.name}"
            ctx = AttackContext(fixtures=fixtures, subject=declared, seed=seed, attack=attack.name)
            order = list(own_strategies or strategies)
            random.Random(f"{seed}|{attack.name}|strategies").shuffle(order)
            for index in range(counts[position]):
                rng = random.Random(f"{seed}|{attack.name}|{index}")
                try:
                    built = attack.generate(ctx, rng, index, options)
                except CorpusError as exc:
                    raise fail("fixtures", str(exc)) from None
                except Exception as exc:  # noqa: BLE001 - a plugin's attack: name it in the error
                    raise fail(label, f"could not generate case {index}: {type(exc).__name__}: {exc}") from None
                uses = self._detector_uses(built, detectors_known, label, fail)
                strategy = strategies_known[order[index % len(order)]]
                try:
                    payload = strategy.apply(built.payload,
                                             random.Random(f"{seed}|{attack.name}|{index}|{strategy.name}"))
                except Exception as exc:  # noqa: BLE001 - a plugin's strategy: name it in the error
                    raise fail("strategies", f"strategy {strategy.name!r} failed on {label} case {index}: "
                                             f"{type(exc).__name__}: {exc}") from None
                pair = f"{attack.name}-{strategy.name}-{index:03d}"
                for variant, role, subject, version in variants:
                    system, user, contexts = subject.messages(built, payload)
                    case_id = pair if role == "subject" and len(variants) == 1 else f"{variant}-{pair}"
                    data_out: dict[str, Any] = {
                        "attack": attack.name, "category": attack.category or attack.name,
                        "strategy": strategy.name, "goal": built.goal, "payload": payload,
                        "detectors": [u.as_dict() for u in uses], "subject": declared,
                        "fail_on_success": fail_on_success, "meta": built.meta,
                        "benign_outputs": str(benign) if benign else None,
                    }
                    if built.document is not None:
                        data_out["position"] = built.position
                    if contexts is not None:
                        data_out["contexts"] = contexts
                    if version:
                        data_out["prompt_version"] = version
                    if len(variants) > 1:
                        data_out.update(variant=variant, role=role, pair=pair)
                    category = data_out["category"]
                    cases.append(CaseSpec(
                        id=case_id, index=len(cases), line=line or top_line, input=user, vars={}, system=system,
                        checks=[], params=suite.params, tags=[attack.name, category, strategy.name],
                        suite=f"{suite.name}/{category}" if split == "category" else None, data=data_out))
        return cases

    def _hand_written(self, data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
                      fail: Fail) -> list[CaseSpec]:
        """Written-out cases (``cases:`` as in functional suites): the checks state the safe
        behaviour, and a case whose checks fail is a successful attack."""
        generated = sorted(k for k in ("attacks", "strategies", "cases_per_category", "baseline", "split")
                           if k in data)
        if generated:
            raise fail(generated[0], "use either generated cases ('attacks', 'strategies', ...) or "
                                     "hand-written 'cases', not both")
        fail_on_success = data.get("fail_on_success", False)
        if not isinstance(fail_on_success, bool):
            raise fail("fail_on_success", "expected true or false")
        cases = parse_cases()
        for case in cases:
            case.data = {"hand_written": True, "fail_on_success": fail_on_success}
        return cases

    def _strategies(self, raw: Any, field: str, known: dict[str, Any], fail: Fail) -> list[str]:
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
            raise fail(field, f"expected a list of strategy names from {sorted(known)}")
        for position, name in enumerate(raw):
            if name not in known:
                raise fail(f"{field}[{position}]", f"unknown strategy {name!r}; known: {', '.join(sorted(known))}")
            if not _NAME_RE.match(name):
                raise fail(f"{field}[{position}]", f"strategy name {name!r} cannot be part of a case id")
        if len(set(raw)) != len(raw):
            raise fail(field, "a strategy is listed twice")
        return list(raw)

    def _attacks(self, raw: Any, known: dict[str, Any], strategies_known: dict[str, Any],
                 fail: Fail) -> list[tuple[Any, dict[str, Any], list[str] | None, int]]:
        if isinstance(raw, dict):
            raw = [{k: v} for k, v in raw.items()]
        if not isinstance(raw, list) or not raw:
            raise fail("attacks", f"expected a non-empty list of attack names (or 'name: {{options}}'); known "
                                  f"attacks: {', '.join(sorted(known))}")
        out = []
        seen: set[str] = set()
        for position, entry in enumerate(raw):
            label = f"attacks[{position}]"
            if isinstance(entry, str):
                name, options = entry, {}
            elif isinstance(entry, dict) and len(entry) == 1:
                (name, options), = entry.items()
                options = {} if options is None else options
                if not isinstance(options, dict):
                    raise fail(f"{label}.{name}", "expected a mapping of options")
            else:
                raise fail(label, "expected an attack name or a single-key mapping 'name: {options}'")
            attack = known.get(name)
            if attack is None:
                raise fail(label, f"unknown attack {name!r}; known attacks: {', '.join(sorted(known))}")
            if not _NAME_RE.match(name):
                raise fail(label, f"attack name {name!r} cannot be part of a case id")
            if name in seen:
                raise fail(label, f"attack {name!r} is listed twice")
            seen.add(name)
            options = dict(options)
            cases = options.pop("cases", None)
            if cases is not None:
                cases = _positive_int(cases, f"{label}.{name}.cases", fail)
            own = options.pop("strategies", None)
            if own is not None:
                own = self._strategies(own, f"{label}.{name}.strategies", strategies_known, fail)
            try:
                options = attack.validate(options)
            except ValueError as exc:
                raise fail(f"{label}.{name}", str(exc)) from None
            if cases is not None:
                options["cases"] = cases
            out.append((attack, options, own, getattr(entry, "line", 0)))
        return out

    @staticmethod
    def _counts(attacks: list[tuple[Any, dict[str, Any], Any, int]], per_category: int) -> list[int]:
        """Cases per attack: an explicit ``cases`` option, else the category's share."""
        shared: dict[str, list[int]] = {}
        counts = [0] * len(attacks)
        for position, (attack, options, _, _) in enumerate(attacks):
            if "cases" in options:
                counts[position] = options["cases"]
            else:
                shared.setdefault(attack.category or attack.name, []).append(position)
        for positions in shared.values():
            base, extra = divmod(per_category, len(positions))
            for rank, position in enumerate(positions):
                counts[position] = base + (rank < extra)
        return counts

    def _detector_uses(self, built: Any, known: dict[str, Any], label: str, fail: Fail) -> list[DetectorUse]:
        if not isinstance(built, AttackCase) or not isinstance(built.payload, str):
            raise fail(label, f"the attack returned {type(built).__name__}; expected an AttackCase")
        if not built.detectors:
            raise fail(label, "the attack's case names no detector")
        uses = []
        for use in built.detectors:
            detector = known.get(use.name)
            if detector is None:
                raise fail(label, f"unknown detector {use.name!r}; known: {', '.join(sorted(known))}")
            if use.success_when not in ("fires", "absent"):
                raise fail(label, f"detector {use.name!r}: success_when must be 'fires' or 'absent'")
            try:
                args = detector.validate(use.args)
            except ValueError as exc:
                raise fail(label, f"detector {use.name!r}: {exc}") from None
            uses.append(DetectorUse(use.name, args, use.success_when))
        return uses

    def _passages(self, corpus: Path | None, suite: SuiteSpec, fail: Fail) -> list[str]:
        from pytest_llmops.core.rag_default import load_corpus

        corpus = corpus or find_upwards(suite.path.parent, "fixtures/rag/corpus.yaml")
        if corpus is None:
            raise fail("corpus", "RAG subjects and indirect injection need a corpus of passages: set "
                                 "'corpus: PATH' (a YAML list of {id, text}) or add fixtures/rag/corpus.yaml")
        try:
            return [p["text"] for p in load_corpus(corpus)]
        except (OSError, ValueError) as exc:
            raise fail("corpus", str(exc)) from None

    def _subjects(self, data: dict[str, Any], suite: SuiteSpec, declared: str, variables: dict[str, Any],
                  passages: list[str], top_k: int, fail: Fail) -> list[tuple[str, str, Subject, str | None]]:
        """``[(variant, role, Subject, prompt version)]``: the subject, then the baseline if any."""
        if data.get("baseline") is not None and declared != "prompt":
            raise fail("baseline", "a baseline prompt needs 'subject: prompt'")
        if declared == "model":
            return [("model", "subject", Subject("model", system=suite.system or DEFAULT_SYSTEM,
                                                 passages=passages, top_k=top_k), None)]
        if declared == "rag":
            if suite.system:
                raise fail("system", "a RAG subject uses the example pipeline's system prompt; remove 'system'")
            return [("rag", "subject", Subject("rag", passages=passages, top_k=top_k), None)]
        out = []
        assert suite.prompt is not None
        paths = [("subject", suite.prompt)]
        baseline = _path(data, "baseline", suite, fail)
        if baseline is not None:
            paths.append(("baseline", baseline))
        for role, path in paths:
            field = "prompt" if role == "subject" else "baseline"
            template = self._template(path, variables, field, fail)
            out.append((path.stem if baseline is not None else "prompt", role,
                        Subject("prompt", template=template, variables=variables, passages=passages, top_k=top_k),
                        template.version))
        if len(out) == 2 and out[0][0] == out[1][0]:
            raise fail("baseline", "the baseline template needs a file name different from the prompt's")
        return out

    @staticmethod
    def _template(path: Path, variables: dict[str, Any], field: str, fail: Fail) -> Any:
        from pytest_llmops.core.subjects import PromptTemplate

        sentinel = "\x00llmops-input\x00"
        try:
            template = PromptTemplate(path)
            messages = template.render(**{**variables, "input": sentinel})
        except Exception as exc:  # noqa: BLE001 - jinja2 and YAML errors alike
            raise fail(field, f"template {path.name}: {type(exc).__name__}: {exc}") from None
        if sentinel not in messages[-1]["content"]:
            raise fail(field, f"template {path.name}: the user part must contain {{{{ input }}}} (the attack goes there)")
        return template

    # -- running -----------------------------------------------------------------------------
    def evaluate(self, item: CaseItem, generations: list[Generation]) -> Evaluation:
        data = item.case.data
        if data.get("hand_written"):
            return self._evaluate_checks(item, generations)
        output = generations[0].text if generations else ""
        detectors = item.llmops.registry.extensions.get("detectors", {})
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
                           "evidence": _evidence_text(shown, named=False), "arg": use["args"]})
            if success and not succeeded:
                succeeded, deciding = True, shown
        evidence = deciding or (detections[0] if detections else {})
        if succeeded and _echoes_input(output, evidence, item.case.input or ""):
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
            from pytest_llmops.suites.adversarial.benign import benign_hits

            fields["benign_fp"] = benign_hits(Path(data["benign_outputs"]),
                                              [(detectors[u["name"]], u["args"]) for u in data["detectors"]])
        failure = ""
        if succeeded:
            failure = f"attack succeeded ({data['attack']}, strategy {data['strategy']}): {data['goal']}\n" \
                      f"{_evidence_text(evidence)}"
            _measured(item, data, _evidence_text(evidence))
        return Evaluation("failed" if succeeded else "passed", checks=checks, fields=fields, failure=failure)

    def _evaluate_checks(self, item: CaseItem, generations: list[Generation]) -> Evaluation:
        verdict = super().evaluate(item, generations)
        succeeded = verdict.outcome == "failed"
        failed = [c for c in verdict.checks if not c["passed"]]
        verdict.fields.update({
            "attack": "hand_written", "category": "hand_written", "strategy": "none",
            "goal": item.case.input or "", "detector": "checks", "attack_succeeded": succeeded,
            "evidence": {"detector": "checks", "fired": succeeded,
                         "matched": failed[0]["name"] if failed else None,
                         "note": "; ".join(f"{c['name']}: {c['evidence']}" for c in failed) or "every check passed"},
        })
        if succeeded:
            verdict.failure = f"attack succeeded (hand-written case): {verdict.failure}"
            _measured(item, item.case.data, verdict.failure)
        return verdict

    def aggregator(self) -> Aggregator:
        return AdversarialAggregator()


def _measured(item: CaseItem, data: dict[str, Any], why: str) -> None:
    """A successful attack is a measurement, not a broken test: xfail it (unless the suite
    says ``fail_on_success: true``); the gate on attack_success_rate decides."""
    if not data.get("fail_on_success"):
        import pytest

        item.add_marker(pytest.mark.xfail(reason=f"attack succeeded (measured by attack_success_rate): {why}",
                                          strict=False))


def _echoes_input(output: str, evidence: dict[str, Any], user: str) -> bool:
    """Whether the matched string comes with the input text just before it (a parroted attack)."""
    from pytest_llmops.suites.adversarial.detectors import normalize

    offset, matched = evidence.get("offset"), evidence.get("matched")
    if offset is None or not matched or evidence.get("form") not in ("raw", "normalized"):
        return False
    window = output[max(0, offset - 24):offset + len(matched)]

    def flat(text: str) -> str:
        return " ".join(normalize(text)[0].split())

    return len(window) >= len(matched) + 12 and flat(window) in flat(user)


def _evidence_text(shown: dict[str, Any], named: bool = True) -> str:
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
