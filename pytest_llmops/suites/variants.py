"""Prompt variants: one suite's cases run under several templates or system prompts (A/B).

A suite file names its variants (``prompts: {a: PATH, b: PATH}`` for ``subject: prompt``,
``system_prompts: {a: TEXT, b: TEXT}`` for ``subject: model``; the first is the reference
unless ``ab_reference`` names another), or ``--llm-prompt-variant NAME=PATH`` adds candidate
templates to every prompt-subject suite, whose own template becomes the reference ``base``.

Collection then makes one copy of the suite per variant, named ``<suite>@<variant>``: each is
an ordinary suite (its own pass rate, metrics and gates) whose records say which variant they
ran (``prompt_variant``) and which one is the reference (``prompt_reference``). The comparison
itself is folded from those records on the controller (:mod:`pytest_llmops.report.ab`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
CLI_REFERENCE = "base"  # the suite's own template, when the command line adds candidates
KEYS = ("prompts", "system_prompts", "ab_reference")

# ``fail(line, field, why, case=None)``: suite_file's error naming the file, line, case and field.
Fail = Callable[..., Exception]


class VariantError(Exception):
    """Variants that cannot be combined (a command-line variant named like one of the file's)."""


@dataclass(frozen=True)
class PromptVariant:
    """One variant: a template file (``prompts``) or a system prompt (``system_prompts``)."""

    name: str
    prompt: Path | None = None
    system: str | None = None

    @property
    def version(self) -> str | None:
        """What identifies a system-prompt variant's text (templates have their own version)."""
        if self.system is None:
            return None
        return hashlib.sha256(self.system.encode("utf-8")).hexdigest()[:12]


def parse_variants(data: dict[str, Any], path: Path, subject: str, fail: Fail) -> tuple[list[PromptVariant], str | None]:
    """The file's variants and the reference's name; ``([], None)`` for a suite without them.

    ``fail(line, field, why)`` builds the error naming the file and line."""
    top = getattr(data, "line", 1)
    field = next((key for key in ("prompts", "system_prompts") if key in data), None)
    if field is None:
        if "ab_reference" in data:
            raise fail(top, "ab_reference", "names the reference of 'prompts' or 'system_prompts', which this "
                                            "suite does not have")
        return [], None
    if "prompts" in data and "system_prompts" in data:
        raise fail(top, "system_prompts", "give 'prompts' (templates) or 'system_prompts', not both")
    if field == "prompts" and subject != "prompt":
        raise fail(top, "prompts", f"template variants need 'subject: prompt' (this suite's subject is {subject!r}); "
                                   "use 'system_prompts' to compare system prompts of a model suite")
    if field == "prompts" and "prompt" in data:
        raise fail(top, "prompt", "give 'prompt' (one template) or 'prompts' (variants to compare), not both")
    if field == "system_prompts" and subject != "model":
        raise fail(top, "system_prompts", f"system prompt variants need 'subject: model' (this suite's subject is "
                                          f"{subject!r}); compare templates with 'prompts'")
    if field == "system_prompts" and data.get("system") is not None:
        raise fail(top, "system", "the system prompt comes from each of 'system_prompts'; remove 'system'")
    raw = data[field]
    line = getattr(raw, "line", top)
    if not isinstance(raw, dict):
        raise fail(line, field, "expected a mapping of variant name to "
                                + ("template path" if field == "prompts" else "system prompt text"))
    for name, where in getattr(raw, "duplicates", ()):
        raise fail(where, f"{field}.{name}", "duplicate variant name (YAML keeps only the last; give each its own name)")
    if len(raw) < 2:
        raise fail(line, field, f"an A/B comparison needs at least two variants, got {len(raw)}")
    variants = []
    for name, value in raw.items():
        if not NAME_RE.match(name):
            raise fail(line, f"{field}.{name}", "expected a variant name of letters, digits, '.', '_' or '-'")
        if not isinstance(value, str) or not value.strip():
            raise fail(line, f"{field}.{name}", "expected " + ("a template path (relative to this file)"
                                                               if field == "prompts" else "the system prompt text"))
        if field == "prompts":
            template = (path.parent / value).resolve()
            if not template.is_file():
                raise fail(line, f"{field}.{name}", f"template file {template} does not exist")
            variants.append(PromptVariant(name, prompt=template))
        else:
            variants.append(PromptVariant(name, system=value))
    reference = data.get("ab_reference", variants[0].name)
    if reference not in {v.name for v in variants}:
        raise fail(top, "ab_reference", f"{reference!r} is not one of the variants {[v.name for v in variants]}")
    return variants, str(reference)


def check_cases(suite: Any, data: dict[str, Any], kind: Any, fail: Fail) -> None:
    """What the variants ask of the suite's kind and cases (after the cases are parsed)."""
    top = getattr(data, "line", 1)
    if not suite.variants:
        return
    if not getattr(kind, "prompt_variants", False):
        field = "prompts" if "prompts" in data else "system_prompts"
        raise fail(top, field, f"kind {suite.kind!r} does not compare prompt variants (its cases do not render "
                               "the suite's template or system prompt when they run)")
    if suite.variants[0].system is not None:
        for case in suite.cases:
            if case.system is not None:
                raise fail(case.line, "system", "the system prompt comes from each of 'system_prompts'; remove "
                                                "the case's own", case.id)


def expand(suite: Any, kind: Any, cli: Sequence[tuple[str, Path]] = ()) -> list[Any]:
    """One suite per variant (``<suite>@<variant>``), or ``[suite]`` when it has none.

    ``cli`` (``--llm-prompt-variant NAME=PATH``) adds candidate templates to a prompt-subject
    suite of a kind that compares variants; the suite's own template is then the reference
    ``base`` unless the file lists variants itself."""
    variants, reference = list(suite.variants), suite.ab_reference
    if cli and suite.subject == "prompt" and getattr(kind, "prompt_variants", False):
        if not variants:
            variants, reference = [PromptVariant(CLI_REFERENCE, prompt=suite.prompt)], CLI_REFERENCE
        for name, template in cli:
            if name in {v.name for v in variants}:
                raise VariantError(f"{suite.path}: --llm-prompt-variant {name}={template}: the suite already has "
                                   f"a variant named {name!r}; choose another name")
            variants.append(PromptVariant(name, prompt=template))
    if not variants:
        return [suite]
    out = []
    for variant in variants:
        if variant.system is not None:
            cases = [dataclasses.replace(c, system=variant.system) for c in suite.cases]
        else:
            cases = list(suite.cases)
        # A kind that splits one file into several suites names them per case: each gets the suffix too.
        cases = [dataclasses.replace(c, suite=f"{c.suite}@{variant.name}") if c.suite else c for c in cases]
        out.append(dataclasses.replace(suite, name=f"{suite.name}@{variant.name}", cases=cases,
                                       prompt=variant.prompt or suite.prompt, variants=variants,
                                       ab_reference=reference, variant=variant))
    return out


def record_fields(suite: Any, suite_name: str) -> dict[str, Any]:
    """What a variant's record adds: its variant, the reference, the suite compared, its version."""
    variant = suite.variant
    if variant is None:
        return {}
    fields: dict[str, Any] = {"prompt_variant": variant.name, "prompt_reference": suite.ab_reference,
                              "prompt_suite": suite_name.removesuffix(f"@{variant.name}")}
    if variant.version is not None:
        fields["prompt_version"] = variant.version
    return fields
