"""Reading an adversarial suite file: its options, and the seeded cases they generate.

A file either writes its cases out (``cases:``, judged by their checks) or names attacks and
strategies; each generated case is rendered here, at collection, into one system + user
request for the subject, so the run treats it as a plain model case (prefetched, batched,
cached). Every mistake is a collection error naming the field.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_llmops.core.rag_default import load_corpus
from pytest_llmops.core.subjects import PromptTemplate
from pytest_llmops.suites.adversarial.attacks import AttackCase, DetectorUse
from pytest_llmops.suites.adversarial.corpora import AttackContext, CorpusError, find_upwards
from pytest_llmops.suites.adversarial.render import DEFAULT_SYSTEM, Subject
from pytest_llmops.suites.kinds import Fail
from pytest_llmops.suites.suite_file import CaseSpec, positive_int

if TYPE_CHECKING:
    from pytest_llmops.suites.suite_file import SuiteSpec

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
DEFAULT_CASES_PER_CATEGORY = 5


class ChosenAttack(NamedTuple):
    """An attack named by the suite, with its validated options and own strategies."""

    attack: Any
    options: dict[str, Any]
    strategies: list[str] | None  # the attack's own strategy list, overriding the suite's
    line: int


class SubjectVariant(NamedTuple):
    """What the cases are rendered for: the subject, and the baseline prompt if the suite has one."""

    variant: str  # the case id prefix (the template's stem when there is a baseline)
    role: str  # "subject" or "baseline"
    subject: Subject
    prompt_version: str | None


def parse_adversarial_cases(data: dict[str, Any], suite: SuiteSpec, parse_cases: Callable[[], list[CaseSpec]],
                            fail: Fail, registry: Any) -> list[CaseSpec]:
    """The suite's cases: written out, or generated from its attacks x strategies."""
    if "cases" in data:
        return _hand_written_cases(data, parse_cases, fail)
    if data.get("defaults"):
        raise fail("defaults", "adversarial cases are judged by their attack's detectors, not by checks")
    return _generated_cases(data, suite, fail, registry.extensions)


def _hand_written_cases(data: dict[str, Any], parse_cases: Callable[[], list[CaseSpec]],
                        fail: Fail) -> list[CaseSpec]:
    """Written-out cases (``cases:`` as in functional suites): the checks state the safe
    behaviour, and a case whose checks fail is a successful attack."""
    generated = sorted(k for k in ("attacks", "strategies", "cases_per_category", "baseline", "split")
                       if k in data)
    if generated:
        raise fail(generated[0], "use either generated cases ('attacks', 'strategies', ...) or "
                                 "hand-written 'cases', not both")
    fail_on_success = _fail_on_success(data, fail)
    cases = parse_cases()
    for case in cases:
        case.data = {"hand_written": True, "fail_on_success": fail_on_success}
    return cases


def _fail_on_success(data: dict[str, Any], fail: Fail) -> bool:
    fail_on_success = data.get("fail_on_success", False)
    if not isinstance(fail_on_success, bool):
        raise fail("fail_on_success", "expected true or false")
    return fail_on_success


def _generated_cases(data: dict[str, Any], suite: SuiteSpec, fail: Fail,
                     tables: dict[str, dict[str, Any]]) -> list[CaseSpec]:
    """Validate the generating options (in the file's order of importance), then build the cases."""
    strategies_known = tables.get("strategies", {})
    fixtures = _suite_relative_path(data, "fixtures", suite, fail) or find_upwards(suite.path.parent,
                                                                                  "fixtures/adversarial")
    if fixtures is None or not fixtures.is_dir():
        raise fail("fixtures", f"no fixtures/adversarial folder above {suite.path.parent}; set "
                               "'fixtures: PATH' to the folder of payload corpora")
    seed = data.get("seed", suite.params.seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise fail("seed", f"expected an integer, got {seed!r}")
    per_category = positive_int(data.get("cases_per_category", DEFAULT_CASES_PER_CATEGORY),
                                "cases_per_category", fail)
    split = data.get("split", "category")
    if split not in ("category", "none"):
        raise fail("split", f"expected 'category' (one suite per attack category) or 'none', got {split!r}")
    fail_on_success = _fail_on_success(data, fail)
    top_k = positive_int(data.get("rag_top_k", 2), "rag_top_k", fail)
    variables = data.get("vars") or {}
    if not isinstance(variables, dict):
        raise fail("vars", "expected a mapping of template variables")

    strategies = _strategy_names(data.get("strategies", ["none"]), "strategies", strategies_known, fail)
    attacks = _chosen_attacks(data.get("attacks"), tables.get("attacks", {}), strategies_known, fail)

    # benign outputs for the detectors' false-positive rates
    benign: Path | None
    if data.get("benign_outputs") is False:
        benign = None
    else:
        benign = _suite_relative_path(data, "benign_outputs", suite, fail)
        if benign is None and (fixtures / "benign_outputs.yaml").is_file():
            benign = fixtures / "benign_outputs.yaml"

    # the subject (and the baseline prompt, if any)
    declared = suite.subject
    needs_passages = declared == "rag" or any(c.attack.category == "indirect_injection"
                                              or c.attack.name == "indirect_injection" for c in attacks)
    corpus = _suite_relative_path(data, "corpus", suite, fail)
    passages = _load_passages(corpus, suite, fail) if needs_passages else []
    variants = _subject_variants(data, suite, declared, variables, passages, top_k, fail)
    # Every case is rendered here into one system + user request, so the items treat it
    # as a plain model case: prefetched, batched and cached (a RAG subject's retrieval
    # is reproduced in render.py; records still say which subject was declared).
    suite.subject = "model"

    shared = {"subject": declared, "fail_on_success": fail_on_success,
              "benign_outputs": str(benign) if benign else None}
    return _build_cases(attacks, strategies, variants, suite, fail, tables, fixtures=fixtures, seed=seed,
                        per_category=per_category, split=split, shared=shared,
                        top_line=getattr(data, "line", 1))


def _build_cases(attacks: list[ChosenAttack], strategies: list[str], variants: list[SubjectVariant],
                 suite: SuiteSpec, fail: Fail, tables: dict[str, dict[str, Any]], *, fixtures: Path, seed: int,
                 per_category: int, split: str, shared: dict[str, Any], top_line: int) -> list[CaseSpec]:
    """Each attack's seeded cases, each obfuscated by a strategy in a seeded order, rendered per variant."""
    strategies_known, detectors_known = tables.get("strategies", {}), tables.get("detectors", {})
    counts = _cases_per_attack(attacks, per_category)
    cases: list[CaseSpec] = []
    for position, (attack, options, own_strategies, line) in enumerate(attacks):
        label = f"attacks[{position}].{attack.name}"
        ctx = AttackContext(fixtures=fixtures, subject=shared["subject"], seed=seed, attack=attack.name)
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
            uses = _validated_detector_uses(built, detectors_known, label, fail)
            strategy = strategies_known[order[index % len(order)]]
            try:
                payload = strategy.apply(built.payload, random.Random(f"{seed}|{attack.name}|{index}|{strategy.name}"))
            except Exception as exc:  # noqa: BLE001 - a plugin's strategy: name it in the error
                raise fail("strategies", f"strategy {strategy.name!r} failed on {label} case {index}: "
                                         f"{type(exc).__name__}: {exc}") from None
            pair = f"{attack.name}-{strategy.name}-{index:03d}"
            for variant, role, subject, version in variants:
                system, user, contexts = subject.messages(built, payload)
                case_id = pair if role == "subject" and len(variants) == 1 else f"{variant}-{pair}"
                facts: dict[str, Any] = {
                    "attack": attack.name, "category": attack.category or attack.name,
                    "strategy": strategy.name, "goal": built.goal, "payload": payload,
                    "detectors": [u.as_dict() for u in uses], "subject": shared["subject"],
                    "fail_on_success": shared["fail_on_success"], "meta": built.meta,
                    "benign_outputs": shared["benign_outputs"],
                }
                if built.document is not None:
                    facts["position"] = built.position
                if contexts is not None:
                    facts["contexts"] = contexts
                if version:
                    facts["prompt_version"] = version
                if len(variants) > 1:
                    facts.update(variant=variant, role=role, pair=pair)
                category = facts["category"]
                cases.append(CaseSpec(
                    id=case_id, index=len(cases), line=line or top_line, input=user, vars={}, system=system,
                    checks=[], params=suite.params, tags=[attack.name, category, strategy.name],
                    suite=f"{suite.name}/{category}" if split == "category" else None, data=facts))
    return cases


def _suite_relative_path(data: dict[str, Any], key: str, suite: SuiteSpec, fail: Fail) -> Path | None:
    """The existing path ``data[key]`` names, relative to the suite file; ``None`` when not set."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(key, "expected a path (relative to this file)")
    path = (suite.path.parent / value).resolve()
    if not path.exists():
        raise fail(key, f"{path} does not exist")
    return path


def _strategy_names(raw: Any, field: str, known: dict[str, Any], fail: Fail) -> list[str]:
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


def _chosen_attacks(raw: Any, known: dict[str, Any], strategies_known: dict[str, Any],
                    fail: Fail) -> list[ChosenAttack]:
    """The ``attacks:`` list: names, or single-key mappings ``name: {options}``."""
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
            cases = positive_int(cases, f"{label}.{name}.cases", fail)
        own = options.pop("strategies", None)
        if own is not None:
            own = _strategy_names(own, f"{label}.{name}.strategies", strategies_known, fail)
        try:
            options = attack.validate(options)
        except ValueError as exc:
            raise fail(f"{label}.{name}", str(exc)) from None
        if cases is not None:
            options["cases"] = cases
        out.append(ChosenAttack(attack, options, own, getattr(entry, "line", 0)))
    return out


def _cases_per_attack(attacks: list[ChosenAttack], per_category: int) -> list[int]:
    """Cases per attack: an explicit ``cases`` option, else the category's share."""
    shared: dict[str, list[int]] = {}
    counts = [0] * len(attacks)
    for position, chosen in enumerate(attacks):
        if "cases" in chosen.options:
            counts[position] = chosen.options["cases"]
        else:
            shared.setdefault(chosen.attack.category or chosen.attack.name, []).append(position)
    for positions in shared.values():
        base, extra = divmod(per_category, len(positions))
        for rank, position in enumerate(positions):
            counts[position] = base + (rank < extra)
    return counts


def _validated_detector_uses(built: Any, known: dict[str, Any], label: str, fail: Fail) -> list[DetectorUse]:
    """The generated case's detectors, each known and with arguments its detector accepts."""
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


def _load_passages(corpus: Path | None, suite: SuiteSpec, fail: Fail) -> list[str]:
    """The passages a RAG subject retrieves from and indirect injections hide among."""
    corpus = corpus or find_upwards(suite.path.parent, "fixtures/rag/corpus.yaml")
    if corpus is None:
        raise fail("corpus", "RAG subjects and indirect injection need a corpus of passages: set "
                             "'corpus: PATH' (a YAML list of {id, text}) or add fixtures/rag/corpus.yaml")
    try:
        return [p["text"] for p in load_corpus(corpus)]
    except (OSError, ValueError) as exc:
        raise fail("corpus", str(exc)) from None


def _subject_variants(data: dict[str, Any], suite: SuiteSpec, declared: str, variables: dict[str, Any],
                      passages: list[str], top_k: int, fail: Fail) -> list[SubjectVariant]:
    """The subject, then the baseline prompt if any."""
    if data.get("baseline") is not None and declared != "prompt":
        raise fail("baseline", "a baseline prompt needs 'subject: prompt'")
    if declared == "model":
        return [SubjectVariant("model", "subject", Subject("model", system=suite.system or DEFAULT_SYSTEM,
                                                           passages=passages, top_k=top_k), None)]
    if declared == "rag":
        if suite.system:
            raise fail("system", "a RAG subject uses the example pipeline's system prompt; remove 'system'")
        return [SubjectVariant("rag", "subject", Subject("rag", passages=passages, top_k=top_k), None)]
    out = []
    assert suite.prompt is not None
    paths = [("subject", suite.prompt)]
    baseline = _suite_relative_path(data, "baseline", suite, fail)
    if baseline is not None:
        paths.append(("baseline", baseline))
    for role, path in paths:
        field = "prompt" if role == "subject" else "baseline"
        template = _load_template(path, variables, field, fail)
        out.append(SubjectVariant(path.stem if baseline is not None else "prompt", role,
                                  Subject("prompt", template=template, variables=variables, passages=passages,
                                          top_k=top_k),
                                  template.version))
    if len(out) == 2 and out[0].variant == out[1].variant:
        raise fail("baseline", "the baseline template needs a file name different from the prompt's")
    return out


def _load_template(path: Path, variables: dict[str, Any], field: str, fail: Fail) -> Any:
    """The prompt template at ``path``, refused unless its user part has the ``{{ input }}`` slot."""
    sentinel = "\x00llmops-input\x00"
    try:
        template = PromptTemplate(path)
        messages = template.render(**{**variables, "input": sentinel})
    except Exception as exc:  # noqa: BLE001 - jinja2 and YAML errors alike
        raise fail(field, f"template {path.name}: {type(exc).__name__}: {exc}") from None
    if sentinel not in messages[-1]["content"]:
        raise fail(field, f"template {path.name}: the user part must contain {{{{ input }}}} (the attack goes there)")
    return template
