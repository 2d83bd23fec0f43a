"""Collecting a metamorphic suite: its ``relations:`` blocks validated and turned into cases.

One case is one source input with its follow-ups. Perturbations run here (they are seeded and
need no model), so a follow-up identical to its source is known before anything is generated:
it is kept apart as a no-op, and a case left with no follow-up is skipped when it runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pytest_llmops.core.rag_default import SYSTEM as RAG_DEFAULT_SYSTEM
from pytest_llmops.providers.base import GenerationParams
from pytest_llmops.suites.kinds import Fail
from pytest_llmops.suites.metamorphic.core import (
    FollowUp,
    make_followups,
    resolve_perturbation,
    resolve_relation,
    tables,
)
from pytest_llmops.suites.metamorphic.inputs import NAME_RE, block_inputs, load_lexicon, rag_sample
from pytest_llmops.suites.metamorphic.perturbations import Perturbation
from pytest_llmops.suites.metamorphic.relations import Relation
from pytest_llmops.suites.metamorphic.rendering import DEFAULT_EXAMPLE_FORMAT, Renderer, system_of, user_of
from pytest_llmops.suites.suite_file import CaseSpec, SuiteFileError, parse_params

if TYPE_CHECKING:
    from pytest_llmops.suites.suite_file import SuiteSpec

TOP_KEYS = frozenset({"relations", "fail_on_violation", "lexicon", "reader"})
BLOCK_KEYS = frozenset({"id", "family", "description", "perturbation", "perturbations", "variants", "relation",
                        "template", "system", "field", "inputs", "inputs_from", "limit", "generation",
                        "fail_on_violation", "example_format", "distractors", "tags"})
DEFAULT_READER = "pytest_llmops.core.rag_default:ExampleRagPipeline.prompt"
#: the sample field text perturbations edit, by subject
DEFAULT_FIELD = {"model": "text", "prompt": "input", "rag": "question"}


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


@dataclass
class RelationBlock:
    """One validated ``relations:`` block: what every case made from its inputs shares."""

    id: str
    family: str
    line: int
    relation: Relation
    relation_options: dict[str, Any]
    perturbations: list[tuple[Perturbation, dict[str, Any]]]
    variants: int
    fail_on_violation: bool
    params: GenerationParams
    field_name: str
    system: str | None
    tags: list[Any]
    distractors: int
    renderer: Renderer
    #: every perturbation only reorders RAG contexts (the cases feed the position-gap metric)
    context_order: bool


def parse_relation_blocks(data: dict[str, Any], suite: SuiteSpec, fail: Fail, registry: Any) -> list[CaseSpec]:
    """The cases of a metamorphic suite file (``data``), one per input of each relation block.

    ``fail(field, why)`` builds the error for a top-level field; errors inside a block name the
    block's line and field (``relations[2].perturbation``).
    """
    where = str(suite.path)

    def fail_at(line: int, field_name: str, why: str) -> SuiteFileError:
        return SuiteFileError(f"{where}:{line}: field '{field_name}': {why}")

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
    lexicon = load_lexicon(data.get("lexicon"), suite.path, fail)
    subject = suite.subject
    prompt_template = None
    if subject == "prompt":
        # reason: core.subjects pulls in the engine; only prompt suites need their template here
        from pytest_llmops.core.subjects import PromptTemplate

        try:
            prompt_template = PromptTemplate(suite.prompt)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - any template problem is a suite-file error
            raise fail("prompt", f"cannot load the template: {exc}") from None
    reader = import_reader(data.get("reader"), fail) if subject == "rag" else None
    if data.get("reader") is not None and subject != "rag":
        raise fail("reader", "only used with 'subject: rag'")
    if subject == "rag" and suite.system is None and data.get("reader") is None:
        suite.system = RAG_DEFAULT_SYSTEM
    parser = BlockParser(suite, registry, lexicon, prompt_template, reader, fail_on,
                         prefix=data.get("suite") or "metamorphic")
    cases: list[CaseSpec] = []
    for b, block in enumerate(blocks):
        line = getattr(block, "line", getattr(data, "line", 1))
        label = f"relations[{b}]"
        if not isinstance(block, dict):
            raise fail_at(line, label, "expected a mapping with family, perturbation, relation and inputs")

        def block_fail(f: str, why: str, _line: int = line, _label: str = label) -> SuiteFileError:
            return fail_at(_line, f"{_label}.{f}" if f else _label, why)

        cases += parser.cases(block, block_fail, first_index=len(cases))
    return cases


def import_reader(raw: Any, fail: Fail) -> Callable[..., str]:
    """The RAG reader ``module:attribute`` (default: the example pipeline's prompt builder)."""
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


class BlockParser:
    """Turns the relation blocks of one suite file into cases, keeping case ids unique across blocks."""

    def __init__(self, suite: SuiteSpec, registry: Any, lexicon: dict[str, Any], prompt_template: Any,
                 reader: Callable[..., str] | None, fail_on_violation: bool, prefix: str) -> None:
        self.suite = suite
        self.perturbation_table, self.relation_table = tables(registry)
        self.lexicon = lexicon
        self.prompt_template = prompt_template
        self.reader = reader
        self.fail_on_violation = fail_on_violation
        self.prefix = prefix
        self.seen: dict[str, int] = {}  # case id -> line, over every block so far

    def cases(self, raw: dict[str, Any], block_fail: Fail, first_index: int) -> list[CaseSpec]:
        """The cases of block ``raw``, one per input; their indexes start at ``first_index``."""
        block = self.validate(raw, block_fail)
        samples = block_inputs(raw, self.suite.path, block.field_name, block_fail)
        cases: list[CaseSpec] = []
        for j, (sample_id, sample, sample_line) in enumerate(samples):
            input_label = f"inputs[{j}]" if "inputs" in raw else f"inputs_from[{j}]"
            case_id = f"{block.id}.{sample_id}"
            if case_id in self.seen:
                raise block_fail("id", f"case id {case_id!r} is already used (line {self.seen[case_id]}); give "
                                       "this block its own 'id:'")
            self.seen[case_id] = sample_line or block.line
            try:
                case = self.case_of_sample(block, case_id, sample_id, sample, index=first_index + len(cases),
                                           line=sample_line or block.line)
            except Exception as exc:  # noqa: BLE001 - the prompt's template meets the input here
                # (a jinja2 UndefinedError for a field the input lacks, among others): name both.
                why = str(exc) if isinstance(exc, (ValueError, KeyError, TypeError)) else f"{type(exc).__name__}: {exc}"
                raise block_fail(input_label, f"input {sample_id!r}: {why}") from None
            cases.append(case)
        return cases

    def validate(self, raw: dict[str, Any], block_fail: Fail) -> RelationBlock:
        """Block ``raw`` checked field by field (the error names the field)."""
        suite, prefix = self.suite, self.prefix
        unknown = sorted(set(raw) - BLOCK_KEYS)
        if unknown:
            raise block_fail(unknown[0], f"unknown key; expected one of {sorted(BLOCK_KEYS)}")
        family = raw.get("family")
        if not isinstance(family, str) or not NAME_RE.match(family):
            raise block_fail("family", "expected a name of letters, digits, '.', '_' or '-' (the suite becomes "
                                       f"{prefix}/<family>)")
        if "relation" not in raw:
            raise block_fail("relation", "missing: the relation that must hold, e.g. 'relation: normalized-exact'")
        try:
            relation, relation_options = resolve_relation(raw["relation"], self.relation_table)
        except (ValueError, LookupError) as exc:
            raise block_fail("relation", str(exc)) from None
        perts = self._perturbations(raw, relation, block_fail)
        variants = raw.get("variants", 1)
        if isinstance(variants, bool) or not isinstance(variants, int) or not 1 <= variants <= 20:
            raise block_fail("variants", "expected an integer from 1 to 20 (follow-ups per perturbation)")
        fail_on = raw.get("fail_on_violation", self.fail_on_violation)
        if not isinstance(fail_on, bool):
            raise block_fail("fail_on_violation", "expected true or false")
        params = parse_params(raw.get("generation") or {}, suite.params, block_fail)
        subject = suite.subject
        field_name = raw.get("field", DEFAULT_FIELD[subject])
        if not isinstance(field_name, str) or not field_name:
            raise block_fail("field", "expected the name of the sample field text perturbations edit")
        for key_name in ("template", "system", "example_format", "description"):
            if raw.get(key_name) is not None and not isinstance(raw[key_name], str):
                raise block_fail(key_name, "expected a string")
        if raw.get("template") is not None and subject != "model":
            renders = "prompt file" if subject == "prompt" else "reader"
            raise block_fail("template", f"not used with subject {subject!r} (the {renders} renders the input)")
        tags = raw.get("tags") or []
        if not isinstance(tags, list):
            raise block_fail("tags", "expected a list")
        distractors = raw.get("distractors", 2)
        if isinstance(distractors, bool) or not isinstance(distractors, int) or distractors < 0:
            raise block_fail("distractors", "expected the number of distractor passages in the source contexts")
        system = raw.get("system", suite.system)
        renderer = Renderer(subject, raw.get("template"), system, field_name,
                            raw.get("example_format", DEFAULT_EXAMPLE_FORMAT), self.prompt_template, self.reader)
        block_id = raw.get("id")
        if block_id is None:
            # The perturbation's (or model relation's) name; the family's in front when an
            # earlier block of the file already uses it.
            block_id = perts[0][0].name if perts else relation.name
            if any(case_id.startswith(block_id + ".") for case_id in self.seen):
                block_id = f"{family}-{block_id}"
        if not isinstance(block_id, str) or not NAME_RE.match(block_id):
            raise block_fail("id", "expected a name of letters, digits, '.', '_' or '-'")
        context_order = bool(perts) and all(getattr(p, "reorders_contexts", False) for p, _ in perts)
        return RelationBlock(id=block_id, family=family, line=getattr(raw, "line", 0), relation=relation,
                             relation_options=relation_options, perturbations=perts, variants=variants,
                             fail_on_violation=fail_on, params=params, field_name=field_name, system=system,
                             tags=tags, distractors=distractors, renderer=renderer, context_order=context_order)

    def _perturbations(self, raw: dict[str, Any], relation: Relation,
                       block_fail: Fail) -> list[tuple[Perturbation, dict[str, Any]]]:
        """The block's ``perturbation`` or ``perturbations`` with their options (none for a model relation)."""
        if "perturbation" in raw and "perturbations" in raw:
            raise block_fail("perturbations", "give 'perturbation' or 'perturbations', not both")
        raw_perts = raw.get("perturbations", [raw["perturbation"]] if "perturbation" in raw else [])
        key = "perturbations" if "perturbations" in raw else "perturbation"
        if not isinstance(raw_perts, list):
            raise block_fail(key, "expected a list of perturbations")
        if relation.direct and raw_perts:
            raise block_fail(key, f"{relation.name!r} is a model relation: it takes no perturbation")
        if not relation.direct and not raw_perts:
            raise block_fail("perturbation", "missing: the perturbation that makes follow-up inputs, e.g. "
                                             "'perturbation: typos'")
        perts = []
        for i, spec in enumerate(raw_perts):
            try:
                perts.append(resolve_perturbation(spec, self.perturbation_table))
            except (ValueError, LookupError) as exc:
                raise block_fail(key if key == "perturbation" else f"{key}[{i}]", str(exc)) from None
        return perts

    def case_of_sample(self, block: RelationBlock, case_id: str, sample_id: str, sample: dict[str, Any],
                       index: int, line: int) -> CaseSpec:
        """The case for one input: its source messages and follow-ups, no-ops and duplicates set apart.

        A sample that does not fit the block raises ``ValueError``, ``KeyError`` or ``TypeError``.
        """
        subject, renderer = self.suite.subject, block.renderer
        if subject == "rag":
            sample = rag_sample(sample, block.distractors)
        if block.field_name == "system":
            base = system_of(renderer.messages(sample))
            if base is None:
                raise ValueError("'field: system' perturbs the system prompt, but this input has none")
            sample = {**sample, "system": base}
        source_messages = renderer.messages(sample)
        followups = make_followups(sample, block.perturbations, block.variants, self.suite.params.seed,
                                   f"{block.id}|{sample_id}", block.field_name, self.lexicon)
        for followup in followups:
            followup.rendered = renderer.messages(followup.sample)
        live: list[FollowUp] = []
        noop: list[FollowUp] = []
        for followup in followups:
            if followup.rendered == source_messages:
                noop.append(followup)
            elif all(followup.rendered != other.rendered for other in live):  # drop duplicate follow-ups
                live.append(followup)
        mm = MetamorphicCase(family=block.family, relation=block.relation, relation_options=block.relation_options,
                             subject=subject, source_sample=sample, source_messages=source_messages,
                             followups=live, noop=noop, perturbations=[p.name for p, _ in block.perturbations],
                             fail_on_violation=block.fail_on_violation, context_order=block.context_order)
        if subject == "prompt":
            variables = {k: v for k, v in sample.items() if k != "system"}
            case_input = variables.get("input") if isinstance(variables.get("input"), str) else None
            case_system = block.system
        else:
            variables, case_input, case_system = {}, user_of(source_messages), system_of(source_messages)
        return CaseSpec(id=case_id, index=index, line=line, input=case_input, vars=variables, system=case_system,
                        checks=[], params=block.params, tags=[block.family, *[str(t) for t in block.tags]],
                        suite=f"{self.prefix}/{block.family}", data={"metamorphic": mm})
