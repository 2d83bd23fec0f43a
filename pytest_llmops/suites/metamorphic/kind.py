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
"""

from __future__ import annotations

import importlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml

from pytest_llmops.providers.base import GenerationRequest, InfraError
from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.kinds import Aggregator, Evaluation, SuiteKind
from pytest_llmops.suites.metamorphic.core import (
    CaseVerdict,
    FollowUp,
    make_followups,
    resolve_perturbation,
    resolve_relation,
    tables,
)
from pytest_llmops.suites.metamorphic.perturbations import LETTERS, POSITIONS, gold_position
from pytest_llmops.suites.metamorphic.relations import Pair, Relation, Verdict, is_correct
from pytest_llmops.suites.suite_file import CaseSpec, SuiteFileError, parse_params

if TYPE_CHECKING:
    from pytest_llmops.suites.items import CaseItem
    from pytest_llmops.suites.suite_file import SuiteSpec

TOP_KEYS = frozenset({"relations", "fail_on_violation", "lexicon", "reader"})
BLOCK_KEYS = frozenset({"id", "family", "description", "perturbation", "perturbations", "variants", "relation",
                        "template", "system", "field", "inputs", "inputs_from", "limit", "generation",
                        "fail_on_violation", "example_format", "distractors", "tags"})
DEFAULT_READER = "pytest_llmops.core.rag_default:ExampleRagPipeline.prompt"
DEFAULT_FIELD = {"model": "text", "prompt": "input", "rag": "question"}
DEFAULT_EXAMPLE_FORMAT = "Input: {text}\nOutput: {label}"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass
class MetamorphicCase:
    """Everything a metamorphic case needs at run time (kept in ``CaseSpec.data``)."""

    family: str
    relation: Relation
    relation_options: dict[str, Any]
    subject: str
    source_sample: dict[str, Any]
    source_messages: list[dict[str, str]]
    followups: list[FollowUp]
    noop: list[FollowUp] = field(default_factory=list)
    perturbations: list[str] = field(default_factory=list)
    fail_on_violation: bool = False
    context_order: bool = False


# -- rendering samples into chat messages --------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)\}")


def fill(template: str, sample: dict[str, Any], example_format: str = DEFAULT_EXAMPLE_FORMAT) -> str:
    """``{field}`` placeholders filled from the sample (``{{``/``}}`` are literal braces).

    ``{options}`` becomes lettered lines (``A. ...``), ``{examples}`` the few-shot examples,
    each written with ``example_format``."""

    def value(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        name = m.group(1)
        if name not in sample:
            raise ValueError(f"the template's {{{name}}} has no value in this input (fields: {sorted(sample)})")
        item = sample[name]
        if name == "options" and isinstance(item, list):
            return "\n".join(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(item))
        if name == "examples" and isinstance(item, list):
            return "\n\n".join(fill(example_format, ex if isinstance(ex, dict) else {"text": ex}, example_format)
                               for ex in item)
        if isinstance(item, (dict, list)):
            return json.dumps(item, ensure_ascii=False)
        return str(item)

    return _PLACEHOLDER.sub(value, template)


class Renderer:
    """Turns a sample into the chat messages the subject is asked."""

    def __init__(self, subject: str, template: str | None, system: str | None, field_name: str,
                 example_format: str, prompt_template: Any = None, reader: Callable[..., str] | None = None) -> None:
        self.subject = subject
        self.template = template
        self.system = system
        self.field = field_name
        self.example_format = example_format
        self.prompt_template = prompt_template
        self.reader = reader

    def messages(self, sample: dict[str, Any]) -> list[dict[str, str]]:
        system = sample.get("system", self.system)
        if self.subject == "prompt":
            variables = {k: v for k, v in sample.items() if k != "system"}
            messages = self.prompt_template.render(**variables)
            has_system = any(m["role"] == "system" for m in messages)
            if "system" in sample and has_system:
                messages = [{**m, "content": sample["system"]} if m["role"] == "system" else m for m in messages]
            elif system and not has_system:
                messages.insert(0, {"role": "system", "content": system})
            return messages
        if self.subject == "rag":
            user = str(self.reader(sample["question"], sample["contexts"]))
        else:
            user = fill(self.template or "{" + self.field + "}", sample, self.example_format)
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def _system_of(messages: list[dict[str, str]]) -> str | None:
    return next((m["content"] for m in messages if m["role"] == "system"), None)


def _user_of(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


# -- the kind -----------------------------------------------------------------------------

class MetamorphicKind(SuiteKind):
    name = "metamorphic"
    extra_keys = TOP_KEYS

    # -- parse ------------------------------------------------------------------------
    def parse(self, data: dict[str, Any], suite: "SuiteSpec", parse_cases: Callable[[], list[CaseSpec]],
              fail: Any, registry: Any) -> list[CaseSpec]:
        where = str(suite.path)

        def fail_at(line: int, field_name: str, why: str, case: str | None = None) -> SuiteFileError:
            at = f" case {case!r}" if case else ""
            return SuiteFileError(f"{where}:{line}:{at} field '{field_name}': {why}")

        if "cases" in data:
            raise fail("cases", "a metamorphic suite lists relation blocks under 'relations:', not 'cases:' "
                                "(see docs/metamorphic.md)")
        if data.get("rag") is not None:
            raise fail("rag", "metamorphic RAG suites control the contexts themselves: name the pipeline's prompt "
                              f"builder with 'reader: module:attribute' (default {DEFAULT_READER})")
        blocks = data.get("relations")
        if not isinstance(blocks, list) or not blocks:
            raise fail("relations", "expected a non-empty list of relation blocks (family, perturbation, "
                                    "relation, inputs)")
        fail_on = data.get("fail_on_violation", False)
        if not isinstance(fail_on, bool):
            raise fail("fail_on_violation", "expected true or false")
        lexicon = self._lexicon(data.get("lexicon"), suite.path, fail)
        perturbations, relations = tables(registry)
        subject = suite.subject
        prompt_template = None
        if subject == "prompt":
            from pytest_llmops.core.subjects import PromptTemplate

            try:
                prompt_template = PromptTemplate(suite.prompt)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - any template problem is a suite-file error
                raise fail("prompt", f"cannot load the template: {exc}") from None
        reader = self._reader(data.get("reader"), fail) if subject == "rag" else None
        if data.get("reader") is not None and subject != "rag":
            raise fail("reader", "only used with 'subject: rag'")
        if subject == "rag" and suite.system is None and data.get("reader") is None:
            from pytest_llmops.core.rag_default import SYSTEM

            suite.system = SYSTEM
        prefix = data.get("suite") or "metamorphic"
        cases: list[CaseSpec] = []
        seen: dict[str, int] = {}
        for b, block in enumerate(blocks):
            line = getattr(block, "line", getattr(data, "line", 1))
            label = f"relations[{b}]"
            if not isinstance(block, dict):
                raise fail_at(line, label, "expected a mapping with family, perturbation, relation and inputs")

            def block_fail(f: str, why: str, _line: int = line, _label: str = label) -> SuiteFileError:
                return fail_at(_line, f"{_label}.{f}" if f else _label, why)

            cases += self._block(block, b, suite, block_fail, fail_at, perturbations, relations, lexicon,
                                 prompt_template, reader, fail_on, prefix, seen, len(cases))
        if subject == "rag":
            # The RAG reader is tested with contexts the suite controls (not retrieved), so its
            # cases are plain generations: prefetched, batched and cached like model cases.
            # Records still say subject "rag" (see evaluate).
            suite.subject = "model"
        return cases

    @staticmethod
    def _lexicon(raw: Any, path: Path, fail: Any) -> dict[str, Any]:
        if raw is None:
            return {}
        if isinstance(raw, dict):
            return dict(raw)
        if not isinstance(raw, str):
            raise fail("lexicon", "expected a path to a YAML file (relative to this file) or a mapping")
        target = (path.parent / raw).resolve()
        try:
            loaded = yaml.safe_load(target.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise fail("lexicon", f"cannot read {target}: {exc}") from None
        if not isinstance(loaded, dict):
            raise fail("lexicon", f"{target} must hold a mapping (names, pronouns, locations, paraphrases, "
                                  "irrelevant_sentences)")
        return loaded

    @staticmethod
    def _reader(raw: Any, fail: Any) -> Callable[..., str]:
        target = raw or DEFAULT_READER
        if not isinstance(target, str) or ":" not in target:
            raise fail("reader", "expected 'module.path:attribute', a callable (question, contexts) -> prompt")
        module_name, _, attribute = target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise fail("reader", f"cannot import {target}: {exc}") from None
        if not callable(obj):
            raise fail("reader", f"{target} is not callable")
        return obj  # type: ignore[no-any-return]

    def _block(self, block: dict[str, Any], b: int, suite: "SuiteSpec", block_fail: Any, fail_at: Any,
               perturbation_table: dict[str, Any], relation_table: dict[str, Any], lexicon: dict[str, Any],
               prompt_template: Any, reader: Any, fail_on: bool, prefix: str, seen: dict[str, int],
               first_index: int) -> list[CaseSpec]:
        line = getattr(block, "line", 0)
        unknown = sorted(set(block) - BLOCK_KEYS)
        if unknown:
            raise block_fail(unknown[0], f"unknown key; expected one of {sorted(BLOCK_KEYS)}")
        family = block.get("family")
        if not isinstance(family, str) or not _NAME_RE.match(family):
            raise block_fail("family", "expected a name of letters, digits, '.', '_' or '-' (the suite becomes "
                                       f"{prefix}/<family>)")
        if "relation" not in block:
            raise block_fail("relation", "missing: the relation that must hold, e.g. 'relation: normalized-exact'")
        try:
            relation, relation_options = resolve_relation(block["relation"], relation_table)
        except (ValueError, LookupError) as exc:
            raise block_fail("relation", str(exc)) from None
        if "perturbation" in block and "perturbations" in block:
            raise block_fail("perturbations", "give 'perturbation' or 'perturbations', not both")
        raw_perts = block.get("perturbations", [block["perturbation"]] if "perturbation" in block else [])
        key = "perturbations" if "perturbations" in block else "perturbation"
        if not isinstance(raw_perts, list):
            raise block_fail(key, "expected a list of perturbations")
        if relation.direct and raw_perts:
            raise block_fail(key, f"{relation.name!r} is a model relation: it takes no perturbation")
        if not relation.direct and not raw_perts:
            raise block_fail("perturbation", "missing: the perturbation that makes follow-up inputs, e.g. "
                                             "'perturbation: typos'")
        perts = []
        for i, raw in enumerate(raw_perts):
            try:
                perts.append(resolve_perturbation(raw, perturbation_table))
            except (ValueError, LookupError) as exc:
                raise block_fail(key if key == "perturbation" else f"{key}[{i}]", str(exc)) from None
        variants = block.get("variants", 1)
        if isinstance(variants, bool) or not isinstance(variants, int) or not 1 <= variants <= 20:
            raise block_fail("variants", "expected an integer from 1 to 20 (follow-ups per perturbation)")
        block_fail_on = block.get("fail_on_violation", fail_on)
        if not isinstance(block_fail_on, bool):
            raise block_fail("fail_on_violation", "expected true or false")
        params = parse_params(block.get("generation") or {}, suite.params, block_fail)
        subject = suite.subject
        field_name = block.get("field", DEFAULT_FIELD[subject])
        if not isinstance(field_name, str) or not field_name:
            raise block_fail("field", "expected the name of the sample field text perturbations edit")
        for key_name in ("template", "system", "example_format", "description"):
            if block.get(key_name) is not None and not isinstance(block[key_name], str):
                raise block_fail(key_name, "expected a string")
        if block.get("template") is not None and subject != "model":
            renders = "prompt file" if subject == "prompt" else "reader"
            raise block_fail("template", f"not used with subject {subject!r} (the {renders} renders the input)")
        tags = block.get("tags") or []
        if not isinstance(tags, list):
            raise block_fail("tags", "expected a list")
        distractors = block.get("distractors", 2)
        if isinstance(distractors, bool) or not isinstance(distractors, int) or distractors < 0:
            raise block_fail("distractors", "expected the number of distractor passages in the source contexts")
        renderer = Renderer(subject, block.get("template"), block.get("system", suite.system), field_name,
                            block.get("example_format", DEFAULT_EXAMPLE_FORMAT), prompt_template, reader)
        block_id = block.get("id")
        if block_id is None:
            # The perturbation's (or model relation's) name; the family's in front when an
            # earlier block of the file already uses it.
            block_id = perts[0][0].name if perts else relation.name
            if any(case_id.startswith(block_id + ".") for case_id in seen):
                block_id = f"{family}-{block_id}"
        if not isinstance(block_id, str) or not _NAME_RE.match(block_id):
            raise block_fail("id", "expected a name of letters, digits, '.', '_' or '-'")
        samples = self._inputs(block, suite.path, field_name, block_fail)
        context_order = bool(perts) and all(getattr(p, "reorders_contexts", False) for p, _ in perts)
        cases = []
        for j, (sample_id, sample, sample_line) in enumerate(samples):
            input_label = f"inputs[{j}]" if "inputs" in block else f"inputs_from[{j}]"
            case_id = f"{block_id}.{sample_id}"
            if case_id in seen:
                raise block_fail("id", f"case id {case_id!r} is already used (line {seen[case_id]}); give this "
                                       "block its own 'id:'")
            seen[case_id] = sample_line or line
            try:
                if subject == "rag":
                    sample = self._rag_sample(sample, distractors)
                if field_name == "system":
                    base = _system_of(renderer.messages(sample))
                    if base is None:
                        raise ValueError("'field: system' perturbs the system prompt, but this input has none")
                    sample = {**sample, "system": base}
                source_messages = renderer.messages(sample)
                followups = make_followups(sample, perts, variants, suite.params.seed, f"{block_id}|{sample_id}",
                                           field_name, lexicon)
                for followup in followups:
                    followup.rendered = renderer.messages(followup.sample)
            except (ValueError, KeyError, TypeError) as exc:
                raise block_fail(input_label, f"input {sample_id!r}: {exc}") from None
            live: list[FollowUp] = []
            noop: list[FollowUp] = []
            for followup in followups:
                if followup.rendered == source_messages:
                    noop.append(followup)
                elif all(followup.rendered != other.rendered for other in live):  # drop duplicate follow-ups
                    live.append(followup)
            mm = MetamorphicCase(family=family, relation=relation, relation_options=relation_options,
                                 subject=subject, source_sample=sample, source_messages=source_messages,
                                 followups=live, noop=noop, perturbations=[p.name for p, _ in perts],
                                 fail_on_violation=block_fail_on, context_order=context_order)
            system = _system_of(source_messages)
            if subject == "prompt":
                variables = {k: v for k, v in sample.items() if k != "system"}
                case_input = variables.get("input") if isinstance(variables.get("input"), str) else None
                case_system = block.get("system", suite.system)
            else:
                variables, case_input, case_system = {}, _user_of(source_messages), system
            cases.append(CaseSpec(id=case_id, index=first_index + len(cases), line=sample_line or line,
                                  input=case_input, vars=variables, system=case_system, checks=[], params=params,
                                  tags=[family, *[str(t) for t in tags]], suite=f"{prefix}/{family}",
                                  data={"metamorphic": mm}))
        return cases

    @staticmethod
    def _inputs(block: dict[str, Any], suite_path: Path, field_name: str,
                block_fail: Any) -> list[tuple[str, dict[str, Any], int]]:
        """``(id, sample, line)`` for each input of the block."""
        if ("inputs" in block) == ("inputs_from" in block):
            raise block_fail("inputs", "give exactly one of 'inputs' (a list) or 'inputs_from' (a YAML file)")
        where: dict[str, Any] = {}
        if "inputs" in block:
            raw, key = block["inputs"], "inputs"
        else:
            source = block["inputs_from"]
            key = "inputs_from"
            if isinstance(source, dict):
                where = source.get("where") or {}
                source = source.get("path")
                if not isinstance(where, dict):
                    raise block_fail("inputs_from.where", "expected a mapping of field: value")
            if not isinstance(source, str):
                raise block_fail(key, "expected a path (relative to this file) or {path:, where:}")
            target = (suite_path.parent / source).resolve()
            try:
                raw = yaml.safe_load(target.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise block_fail(key, f"cannot read {target}: {exc}") from None
            if isinstance(raw, dict) and isinstance(raw.get("items"), list):
                raw = raw["items"]
        if not isinstance(raw, list) or not raw:
            raise block_fail(key, "expected a non-empty list of inputs (strings or mappings)")
        out: list[tuple[str, dict[str, Any], int]] = []
        ids: set[str] = set()
        for j, item in enumerate(raw):
            if isinstance(item, str):
                sample: dict[str, Any] = {field_name: item}
                sample_id = str(j + 1)
            elif isinstance(item, dict):
                sample = dict(item)
                sample_id = str(sample.pop("id", j + 1))
            else:
                raise block_fail(f"{key}[{j}]", "expected a string or a mapping of fields")
            if any(sample.get(k) != v for k, v in where.items()):
                continue
            if not _NAME_RE.match(sample_id) or sample_id in ids:
                raise block_fail(f"{key}[{j}].id", f"{sample_id!r}: expected a unique id of letters, digits, "
                                                   "'.', '_' or '-'")
            ids.add(sample_id)
            out.append((sample_id, sample, getattr(item, "line", 0)))
        limit = block.get("limit")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise block_fail("limit", "expected a positive integer")
            out = out[:limit]
        if not out:
            raise block_fail(key, "no input left after 'where'")
        return out

    @staticmethod
    def _rag_sample(sample: dict[str, Any], distractors: int) -> dict[str, Any]:
        for key in ("question", "gold"):
            if not isinstance(sample.get(key), str) or not sample[key].strip():
                raise ValueError(f"a RAG input needs '{key}': a string")
        if sample.get("answer") is None:
            raise ValueError("a RAG input needs 'answer': the value (or list of accepted values) the gold "
                             "passage gives")
        pool = sample.get("distractors") or []
        if not isinstance(pool, list) or not all(isinstance(p, str) for p in pool):
            raise ValueError("'distractors' must be a list of passages")
        contexts = sample.get("contexts")
        if contexts is None:
            contexts = [sample["gold"], *pool[:distractors]]
        if not isinstance(contexts, list) or sample["gold"] not in contexts:
            raise ValueError("'contexts' must be a list of passages that includes the gold passage")
        return {**sample, "contexts": list(contexts), "pool": [p for p in pool if p not in contexts]}

    # -- run --------------------------------------------------------------------------
    def requests(self, item: "CaseItem") -> list[GenerationRequest]:
        mm: MetamorphicCase = item.case.data["metamorphic"]
        if mm.relation.direct or not mm.followups:
            return []  # model relations ask the provider themselves; no-op cases ask nothing
        params = item.case.params
        return [GenerationRequest.chat(mm.source_messages, params),
                *(GenerationRequest.chat(f.rendered, params) for f in mm.followups)]

    def evaluate(self, item: "CaseItem", generations: list[Any]) -> Evaluation:
        start = time.perf_counter()
        mm: MetamorphicCase = item.case.data["metamorphic"]
        fields: dict[str, Any] = {
            "family": mm.family, "relation": mm.relation.name, "relation_family": mm.relation.family,
            "perturbations": mm.perturbations, "noop": False, "noop_followups": len(mm.noop),
        }
        if mm.subject == "rag":
            fields["subject"] = "rag"
        if mm.noop and not mm.followups:
            fields.update(noop=True, violated=None, undecided=False,
                          noop_changes=[f.summary() for f in mm.noop])
            names = ", ".join(sorted({f.perturbation for f in mm.noop}))
            _finish(item, "skipped", fields, time.perf_counter() - start)
            import pytest

            pytest.skip(f"no-op: {names} changed nothing in this input")
        try:
            if mm.relation.direct:
                verdicts = [self._run_direct(item, mm, fields)]
            else:
                verdicts = self._check_outputs(mm, generations, fields)
        except Exception as exc:
            label = "infra error" if isinstance(exc, InfraError) else f"error: {type(exc).__name__}"
            _finish(item, "error", fields, time.perf_counter() - start, error=f"{label}: {exc}")
            raise
        result = CaseVerdict(verdicts)
        fields.update(violated=result.violated, undecided=result.violated is None, evidence=result.evidence)
        checks = [{"name": mm.relation.name, "passed": v.holds is not False,
                   "score": 0.0 if v.holds is False else 1.0, "evidence": v.evidence,
                   "arg": {"perturbation": f.get("perturbation"), "variant": f.get("variant")}}
                  for v, f in zip(verdicts, fields.get("followups") or [{}])]
        failed = bool(result.violated) and mm.fail_on_violation
        return Evaluation(outcome="failed" if failed else "passed", checks=checks, fields=fields,
                          failure=f"{mm.relation.name} violated ({mm.family}): {result.evidence}")

    @staticmethod
    def _check_outputs(mm: MetamorphicCase, generations: list[Any], fields: dict[str, Any]) -> list[Verdict]:
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
        fields["source"] = {"sample": _public(mm.source_sample), "output": source}
        fields["followups"] = followups
        if mm.context_order:
            fields["gold_positions"] = [
                {"position": gold_position(sample), "correct": is_correct(output, sample)}
                for sample, output in [(mm.source_sample, source),
                                       *((f.sample, o) for f, o in zip(mm.followups, texts[1:]))]]
        return verdicts

    @staticmethod
    def _run_direct(item: "CaseItem", mm: MetamorphicCase, fields: dict[str, Any]) -> Verdict:
        provider = item.llmops.engine.provider(item.alias)
        request = GenerationRequest.chat(mm.source_messages, item.case.params)
        verdict = mm.relation.run(provider, request, mm.relation_options)
        fields["direct"] = True  # generated by the provider itself, not through the engine's cache
        fields["source"] = {"sample": _public(mm.source_sample)}
        fields["details"] = verdict.details
        fields["output"] = next((verdict.details[k] for k in ("alone", "non_streamed", "output_2k")
                                 if k in verdict.details), None)
        return verdict

    def aggregator(self) -> Aggregator:
        return MetamorphicAggregator()


def _public(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample as recorded (without the RAG distractor pool, which can be long)."""
    return {k: v for k, v in sample.items() if k != "pool"}


def _finish(item: "CaseItem", outcome: str, fields: dict[str, Any], seconds: float, error: str | None = None) -> None:
    """Keep a record for a case that ends without returning an Evaluation (skipped or error).

    CaseItem.runtest only records the outcome of a returned Evaluation, so a kind that skips
    or errors keeps its record itself, through the item's own record helpers."""
    record = item._record(outcome, checks=[], seconds=seconds, error=error)
    record.update(fields)
    item._keep_record(record)


class MetamorphicAggregator(Aggregator):
    """``violation_rate`` over decided cases; no-op, undecided and per-perturbation counts;
    ``position_gap`` for context-order families."""

    def __init__(self) -> None:
        self.n = 0
        self.violations = 0
        self.noop = 0
        self.undecided = 0
        self.noop_followups = 0
        self.by_perturbation: dict[str, list[int]] = {}
        self.positions: dict[str, list[int]] = {}

    def add(self, record: dict[str, Any]) -> None:
        if record.get("outcome") == "skipped" and record.get("noop"):
            self.noop += 1
            return
        if record.get("outcome") not in ("passed", "failed"):
            return
        self.noop_followups += int(record.get("noop_followups") or 0)
        violated = record.get("violated")
        if violated is None:
            self.undecided += 1
            return
        self.n += 1
        self.violations += bool(violated)
        for name in dict.fromkeys(record.get("perturbations") or []):
            counts = self.by_perturbation.setdefault(name, [0, 0])
            counts[1] += 1
            counts[0] += bool(violated)
        for entry in record.get("gold_positions") or []:
            if entry.get("position") in POSITIONS and entry.get("correct") is not None:
                counts = self.positions.setdefault(entry["position"], [0, 0])
                counts[1] += 1
                counts[0] += bool(entry["correct"])

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {"violation_rate": rate_metric(self.violations, self.n),
                               "noop_skipped": self.noop, "undecided": self.undecided,
                               "noop_followups": self.noop_followups}
        if len(self.by_perturbation) > 1:
            out["violation_rate_by_perturbation"] = {name: rate_metric(v, n)
                                                     for name, (v, n) in sorted(self.by_perturbation.items())}
        if self.positions:
            accuracy = {p: rate_metric(*self.positions[p]) for p in POSITIONS if p in self.positions}
            values = [a["value"] for a in accuracy.values() if a["value"] is not None]
            out["position_gap"] = {"value": round(max(values) - min(values), 6) if len(values) > 1 else None,
                                   "by_position": accuracy,
                                   "n": min(a["n"] for a in accuracy.values())}
        return out


KIND = MetamorphicKind()
