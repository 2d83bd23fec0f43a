"""Loading and validating YAML suite files.

Everything about a file is checked when it is collected, so a mistake is a collection
error that names the file, the line, the case and the field, and the other files still run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_llmops.suites.slicing import case_metadata, suite_slices
from pytest_llmops.providers.base import GenerationParams
from pytest_llmops.suites.repeats import (
    RepeatSettings,
    case_repeats,
    check_rule,
    consistent_rule,
    parse_repeats,
)
from pytest_llmops.suites import variants as _variants

SUBJECTS = ("model", "prompt", "rag")
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_TOP_KEYS = {"suite", "kind", "description", "subject", "system", "prompt", "rag", "generation", "defaults",
             "cases", "repeats", "pass_if", "slices", *_variants.KEYS}
_CASE_KEYS = {"id", "input", "vars", "system", "checks", "generation", "description", "tags", "repeats", "pass_if",
              "metadata"}


class SuiteFileError(Exception):
    """A suite file that cannot be used; the message names file, line, case and field."""


class _LineDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line it started on (1-based)."""

    line: int = 0
    #: ``(key, line)`` of keys given twice (YAML keeps the last); checked where a repeat matters
    duplicates: tuple[tuple[str, int], ...] = ()


# libyaml's parser when available: the pure-Python one dominates collection of big suites.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader whose mappings carry their line numbers."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    if len(mapping) < len(node.value):
        seen: set[Any] = set()
        repeated = []
        for key_node, _ in node.value:
            if key_node.value in seen:
                repeated.append((key_node.value, key_node.start_mark.line + 1))
            seen.add(key_node.value)
        mapping.duplicates = tuple(repeated)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class CheckSpec:
    """One validated check of a case."""

    name: str
    arg: Any


@dataclass
class CaseSpec:
    """One validated case."""

    id: str
    index: int
    line: int
    input: str | None
    vars: dict[str, Any]
    system: str | None
    checks: list[CheckSpec]
    params: GenerationParams
    tags: list[str] = field(default_factory=list)
    suite: str | None = None  # a kind may split one file into several suites (e.g. per attack category)
    data: dict[str, Any] = field(default_factory=dict)  # kind-specific facts about the case
    repeats: int = 1  # samples of the case's request (see suites/repeats.py)
    pass_if: str = "all"  # the rule that turns its samples' verdicts into the case's
    #: facts about the case a suite may be sliced by (``metadata.segment``), copied into its record
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SuiteSpec:
    """A validated suite file."""

    path: Path
    name: str
    kind: str
    subject: str
    description: str
    system: str | None
    prompt: Path | None
    rag: str | None
    cases: list[CaseSpec]
    sha256: str = ""  # of the file's bytes: what the gate artifact lists as this suite's input
    params: GenerationParams = field(default_factory=GenerationParams)  # the file's generation settings
    default_checks: list[CheckSpec] = field(default_factory=list)
    repeat_settings: RepeatSettings = field(default_factory=RepeatSettings)  # what its cases repeat by default
    #: prompt variants compared on these cases (``prompts``/``system_prompts``; see suites/variants.py)
    variants: list[Any] = field(default_factory=list)
    ab_reference: str | None = None  # the reference variant's name
    variant: Any = None  # set on the per-variant copies collection makes
    #: slice name -> dotted record path: the file's ``slices:`` and the run's ``--llm-slice``
    #: (docs/slices.md); every record of the suite carries it as ``slice_by``
    slices: dict[str, str] = field(default_factory=dict)


def suite_name_for(path: Path, rootdir: Path) -> str:
    """Default suite name: path under ``evalsuites/`` (or the rootdir) without the suffix."""
    try:
        rel = path.resolve().relative_to(rootdir.resolve())
    except ValueError:
        rel = Path(path.name)
    parts = list(rel.parts)
    if len(parts) > 1 and parts[0] == "evalsuites":
        parts = parts[1:]
    name = "/".join(parts)
    for suffix in (".eval.yaml", ".eval.yml", ".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _check_keys(node: Any, where: str, line: int = 1, depth: int = 0, seen: set[int] | None = None) -> None:
    """Every mapping key in the file is text (``1:`` or ``yes:`` as a key is a typo), and the
    nesting stays within what any suite needs: raise :class:`SuiteFileError` naming the line.

    A YAML alias is the same object as its anchor, so each is walked once: an alias bomb
    costs its size on disk, not its expansion."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    if depth > 64:
        raise SuiteFileError(f"{where}:{line}: nested more than 64 levels deep")
    if isinstance(node, dict):
        seen.add(id(node))
        line = getattr(node, "line", line)
        for key, value in node.items():
            if not isinstance(key, str):
                raise SuiteFileError(f"{where}:{line}: key {key!r} is a {type(key).__name__}; keys are names "
                                     "(quote it if it is meant as text)")
            _check_keys(value, where, line, depth + 1, seen)
    elif isinstance(node, list):
        seen.add(id(node))
        for item in node:
            _check_keys(item, where, line, depth + 1, seen)


def load_suite(path: Path, rootdir: Path, default_params: GenerationParams, registry: Any,
               default_repeats: int = 1, default_slices: Any = ()) -> SuiteSpec:
    """Parse and validate ``path``; raise :class:`SuiteFileError` on the first problem.

    ``registry`` holds the registered suite kinds (``kinds``: name -> kind), the checks and
    the kinds' extension tables; the file's ``kind`` must be one of the registered kinds.
    ``default_repeats`` (``--llm-repeats``) is the sample count of cases whose file says none,
    in suites whose kind and subject take repeats. ``default_slices`` (``--llm-slice``) are
    ``(name, path)`` slices every suite adds to its file's ``slices:``."""
    kinds: dict[str, Any] = registry.kinds
    checks: dict[str, Any] = registry.checks
    where = str(path)
    try:
        content = path.read_bytes()
        data = yaml.load(content.decode("utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise SuiteFileError(f"{where}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError as exc:
        raise SuiteFileError(f"{where}: not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise SuiteFileError(f"{where}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteFileError(f"{where}: expected a mapping with a 'cases' list at the top level")
    _check_keys(data, where)

    def fail(line: int, field_name: str, why: str, case: str | None = None) -> SuiteFileError:
        at = f" case {case!r}" if case else ""
        return SuiteFileError(f"{where}:{line}:{at} field '{field_name}': {why}")

    top_line = getattr(data, "line", 1)
    kind = data.get("kind", "functional")
    if not isinstance(kind, str) or kind not in kinds:
        raise fail(top_line, "kind", f"{kind!r} is not one of {sorted(kinds)}")
    handler = kinds[kind]
    allowed = _TOP_KEYS | handler.extra_keys
    unknown = set(data) - allowed
    if unknown:
        raise fail(top_line, sorted(unknown)[0], f"unknown key; expected one of {sorted(allowed)}")
    subject = data.get("subject", "model")
    if subject not in SUBJECTS:
        raise fail(top_line, "subject", f"{subject!r} is not one of {list(SUBJECTS)}")
    name = data.get("suite") or suite_name_for(path, rootdir)
    if not isinstance(name, str):
        raise fail(top_line, "suite", "expected a string")
    system = data.get("system")
    if system is not None and not isinstance(system, str):
        raise fail(top_line, "system", "expected a string")
    variants, ab_reference = _variants.parse_variants(data, path, subject, fail)
    prompt = None
    if subject == "prompt" and variants:
        prompt = next(v.prompt for v in variants if v.name == ab_reference)
    elif subject == "prompt":
        if not isinstance(data.get("prompt"), str):
            raise fail(top_line, "prompt", "subject 'prompt' needs 'prompt: PATH' to a jinja2 template "
                                            "(relative to this file), or 'prompts: {NAME: PATH, ...}' to compare "
                                            "several")
        prompt = (path.parent / data["prompt"]).resolve()
        if not prompt.is_file():
            raise fail(top_line, "prompt", f"template file {prompt} does not exist")
    rag = data.get("rag")
    if rag is not None and (not isinstance(rag, str) or ":" not in rag):
        raise fail(top_line, "rag", "expected 'module.path:attribute'")
    params = parse_params(data.get("generation") or {}, default_params, lambda f, why: fail(top_line, f, why))
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict) or set(defaults) - {"checks"}:
        raise fail(getattr(defaults, "line", top_line), "defaults", "expected a mapping with only 'checks'")
    default_checks = parse_checks(defaults.get("checks") or [], checks,
                             lambda f, why: fail(getattr(defaults, "line", top_line), f"defaults.{f}", why))
    suite = SuiteSpec(path=path, name=name, kind=kind, subject=subject, description=str(data.get("description", "")),
                      system=system, prompt=prompt, rag=rag, cases=[], sha256=hashlib.sha256(content).hexdigest(),
                      params=params, default_checks=default_checks, variants=variants, ab_reference=ab_reference,
                      repeat_settings=_repeat_settings(data, handler, subject, default_repeats,
                                                       lambda f, why: fail(top_line, f, why)))

    suite.slices = suite_slices(data.get("slices"), default_slices, lambda f, why: fail(top_line, f, why))

    def parse_cases() -> list[CaseSpec]:
        return _parse_cases(data, suite, checks, fail)

    suite.cases = handler.parse(data, suite, parse_cases, lambda f, why: fail(top_line, f, why), registry)
    if not suite.cases:
        raise fail(top_line, "cases", "the suite has no cases")
    _variants.check_cases(suite, data, handler, fail)
    return suite


def _parse_cases(data: dict[str, Any], suite: "SuiteSpec", checks: dict[str, Any], fail: Any) -> list[CaseSpec]:
    """The ``cases:`` list as written, each validated (the functional kind's cases)."""
    top_line = getattr(data, "line", 1)
    subject, system, params, default_checks = suite.subject, suite.system, suite.params, suite.default_checks
    raw_cases = data.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise fail(top_line, "cases", "expected a non-empty list of cases")
    seen: dict[str, int] = {}
    cases = []
    for index, raw in enumerate(raw_cases):
        line = getattr(raw, "line", top_line)
        if not isinstance(raw, dict):
            raise fail(line, f"cases[{index}]", "expected a mapping with 'id', 'input' and 'checks'")
        case_id = raw.get("id")
        label = f"cases[{index}]"
        if not isinstance(case_id, (str, int)) or not _ID_RE.match(str(case_id)):
            raise fail(line, f"{label}.id", "expected an id of letters, digits, '.', '_' or '-'")
        case_id = str(case_id)
        if case_id in seen:
            raise fail(line, f"{label}.id", f"duplicate id (first used at line {seen[case_id]})", case_id)
        seen[case_id] = line

        def case_fail(f: str, why: str, _line: int = line, _id: str = case_id) -> SuiteFileError:
            return fail(_line, f, why, _id)

        unknown = set(raw) - _CASE_KEYS
        if unknown:
            raise case_fail(sorted(unknown)[0], f"unknown key; expected one of {sorted(_CASE_KEYS)}")
        text = raw.get("input")
        variables = raw.get("vars") or {}
        if not isinstance(variables, dict):
            raise case_fail("vars", "expected a mapping of template variables")
        if subject == "prompt":
            if text is not None and not isinstance(text, str):
                raise case_fail("input", "expected a string")
        elif not isinstance(text, str) or not text.strip():
            raise case_fail("input", "expected a non-empty string")
        case_system = raw.get("system", system)
        if case_system is not None and not isinstance(case_system, str):
            raise case_fail("system", "expected a string")
        case_checks = parse_checks(raw.get("checks") or [], checks, case_fail)
        if not case_checks and not default_checks:
            raise case_fail("checks", "a case needs at least one check (here or in defaults.checks)")
        case_params = parse_params(raw.get("generation") or {}, params, case_fail)
        repeats, pass_if = case_repeats(raw, suite.repeat_settings, case_params, case_fail)
        tags = raw.get("tags") or []
        if not isinstance(tags, list):
            raise case_fail("tags", "expected a list of tags")
        metadata = case_metadata(raw.get("metadata"), case_fail)
        cases.append(CaseSpec(id=case_id, index=index, line=line, input=text, vars=dict(variables),
                              system=case_system, checks=default_checks + case_checks, params=case_params,
                              tags=[str(t) for t in tags], repeats=repeats, pass_if=pass_if,
                              metadata=metadata))
    return cases


def _repeat_settings(data: dict[str, Any], kind: Any, subject: str, default_repeats: int,
                     fail: Any) -> RepeatSettings:
    """The suite's own ``repeats``/``pass_if`` over the run's ``--llm-repeats``.

    Kinds that plan or judge their own way (``supports_repeats`` false) and RAG pipeline suites
    (their pipeline answers once per case) refuse the keys, and the run default skips them."""
    unsupported = ""
    if not getattr(kind, "supports_repeats", False):
        unsupported = (f"kind {kind.name!r} does not take repeats (it plans and judges its cases its own "
                       "way); repeats apply to kinds that judge one answer per case, such as functional")
    elif subject == "rag":
        unsupported = ("subject 'rag' does not take repeats: the RAG pipeline answers each case once "
                       "(sample the model in a functional suite instead)")
    declared = [key for key in ("repeats", "pass_if") if key in data]
    if unsupported:
        if declared:
            raise fail(declared[0], unsupported)
        return RepeatSettings(unsupported=unsupported)
    if "repeats" in data:
        k, source = parse_repeats(data["repeats"], "repeats", fail), "the suite's repeats"
    else:
        k, source = default_repeats, ("--llm-repeats" if default_repeats > 1 else "default")
    rule = check_rule(data["pass_if"], "pass_if", fail) if "pass_if" in data else "all"
    if "repeats" in data and "pass_if" in data:
        consistent_rule(rule, k, "", "pass_if", fail)
    return RepeatSettings(k=k, pass_if=rule, source=source,
                          pass_if_source="the suite's pass_if" if "pass_if" in data else "default")


def parse_params(raw: Any, base: GenerationParams, fail: Any) -> GenerationParams:
    """Validate a ``generation:`` mapping on top of ``base``."""
    if not isinstance(raw, dict):
        raise fail("generation", "expected a mapping (max_new_tokens, temperature, top_p, seed, stop)")
    try:
        params = GenerationParams.from_mapping(dict(raw), base)
    except KeyError as exc:
        raise fail(f"generation.{exc.args[0]}", "unknown parameter; expected max_new_tokens, temperature, "
                                                "top_p, seed or stop") from None
    except (TypeError, ValueError) as exc:
        raise fail("generation", f"bad value: {exc}") from None
    if params.max_new_tokens < 1:
        raise fail("generation.max_new_tokens", "must be at least 1")
    return params


def parse_checks(raw: Any, registry: dict[str, Any], fail: Any) -> list[CheckSpec]:
    """Validate a list of checks (``- contains: x``) against the check registry."""
    if not isinstance(raw, list):
        raise fail("checks", "expected a list of single-key mappings such as '- contains: Paris'")
    out = []
    for position, item in enumerate(raw):
        label = f"checks[{position}]"
        if isinstance(item, str):
            item = {item: None}
        if not isinstance(item, dict) or len(item) != 1:
            raise fail(label, "expected a single-key mapping such as '- contains: Paris'")
        (name, arg), = item.items()
        check = registry.get(name)
        if check is None:
            raise fail(f"{label}.{name}", f"unknown check; known checks: {', '.join(sorted(registry))}")
        try:
            out.append(CheckSpec(name, check.validate(arg)))
        except ValueError as exc:
            raise fail(f"{label}.{name}", str(exc)) from None
    return out


def positive_int(value: Any, field: str, fail: Any) -> int:
    """``value`` when it is a whole number of at least 1, else the error ``fail(field, why)`` builds.

    Booleans are refused although Python counts them as ints: ``cases: true`` is a mistake.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(field, f"expected a whole number of at least 1, got {value!r}")
    return value
