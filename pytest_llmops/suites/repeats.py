"""Repeated sampling of a case: how many samples, the rule that turns them into a verdict,
and what the case's record keeps of them.

A suite file (or one of its cases) declares ``repeats: k`` and ``pass_if: all | majority |
"m/k"``; ``--llm-repeats`` is the run's default for files that say nothing. The case plans k
requests that differ only in their sample index (so each has its own seed and its own cache
entry), every sample is judged by the case's checks, and the case passes when the rule says
so. See ``docs/repeats.md``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable

from pytest_llmops.providers.base import GenerationParams, GenerationRequest

#: the most samples a case may ask for: beyond it a typo (``repeats: 500``) would cost a run
MAX_REPEATS = 100
RULES = ("all", "majority", "m/k")
_FRACTION_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

Fail = Callable[[str, str], Exception]


@dataclass(frozen=True)
class RepeatSettings:
    """A suite's repeat settings, before a case overrides them.

    ``k`` is the file's ``repeats`` or else the run's ``--llm-repeats`` (``source`` says which,
    for error messages); ``unsupported`` is why this suite cannot repeat (its kind or its
    subject), empty when it can.
    """

    k: int = 1
    pass_if: str = "all"
    source: str = "default"
    pass_if_source: str = "default"
    unsupported: str = ""


def parse_repeats(value: Any, field: str, fail: Fail) -> int:
    """``value`` as a sample count: a whole number from 1 to :data:`MAX_REPEATS`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPEATS:
        raise fail(field, f"expected a whole number of samples from 1 to {MAX_REPEATS}, got {value!r}")
    return value


def check_rule(value: Any, field: str, fail: Fail) -> str:
    """``value`` as a ``pass_if`` rule (its syntax only; :func:`consistent_rule` checks it against k)."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("all", "majority"):
            return text
        match = _FRACTION_RE.match(text)
        if match:
            return f"{int(match.group(1))}/{int(match.group(2))}"
    raise fail(field, f"expected all, majority or \"m/k\" (such as \"3/5\": at least 3 of 5 samples pass), "
                      f"got {value!r}")


def needed(rule: str, k: int) -> int:
    """How many of ``k`` samples must pass under ``rule``."""
    if rule == "all":
        return k
    if rule == "majority":
        return k // 2 + 1  # strictly more than half: 2 of 4 is a tie, not a majority
    return int(rule.split("/", 1)[0])


def consistent_rule(rule: str, k: int, where: str, field: str, fail: Fail) -> str:
    """``rule`` when it fits ``k`` samples; an ``m/k`` rule must name this k and 1 <= m <= k."""
    match = _FRACTION_RE.match(rule)
    if match:
        m, of = int(match.group(1)), int(match.group(2))
        if of != k:
            raise fail(field, f"pass_if {rule!r}{where} counts {of} samples but this case takes {k} "
                              f"(repeats {k}); write \"m/{k}\" or set repeats: {of}")
        if not 1 <= m <= k:
            raise fail(field, f"pass_if {rule!r}{where}: m must be between 1 and {k}")
    return rule


def case_repeats(raw: dict[str, Any], settings: RepeatSettings, params: GenerationParams,
                 fail: Fail) -> tuple[int, str]:
    """``(k, rule)`` for one case: its own ``repeats``/``pass_if`` over the suite's settings."""
    declared = [key for key in ("repeats", "pass_if") if key in raw]
    if declared and settings.unsupported:
        raise fail(declared[0], settings.unsupported)
    if "repeats" in raw:
        k, source = parse_repeats(raw["repeats"], "repeats", fail), "this case's repeats"
    else:
        k, source = settings.k, settings.source
    if "pass_if" in raw:
        rule, rule_source = check_rule(raw["pass_if"], "pass_if", fail), ""
    else:
        rule, rule_source = settings.pass_if, settings.pass_if_source
    where = f" (from {rule_source})" if rule_source and rule_source != "default" else ""
    consistent_rule(rule, k, where, "pass_if", fail)
    if k > 1 and params.greedy:
        raise fail("generation.temperature",
                   f"{k} samples (from {source}) at temperature 0 would all be the same answer: greedy "
                   "decoding repeats exactly. Set a temperature (generation.temperature in the file, "
                   "or --llm-temperature / ini llm_temperature for the run)")
    return k, rule


def sample_requests(request: GenerationRequest, k: int) -> list[GenerationRequest]:
    """``k`` copies of ``request`` with sample indices ``0..k-1`` (each its own seed and cache entry)."""
    return [request if index == 0 else dataclasses.replace(request, sample_index=index) for index in range(k)]


def repeat_fields(samples: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    """The record's ``repeats`` summary for judged ``samples`` (each with its ``outcome``)."""
    k = len(samples)
    passed = sum(1 for sample in samples if sample["outcome"] == "passed")
    return {"k": k, "passed": passed, "pass_fraction": passed / k, "rule": rule, "flaky": 0 < passed < k}


def failure_text(samples: list[dict[str, Any]], rule: str) -> str:
    """Why a repeated case failed: how many samples failed, and each failing check with its count."""
    k = len(samples)
    failed = [s for s in samples if s["outcome"] == "failed"]
    lines = [f"{len(failed)} of {k} samples failed (pass_if {rule}: needs {needed(rule, k)} of {k} to pass)"]
    by_check: dict[str, list[tuple[int, str]]] = {}
    for sample in failed:
        for check in sample["checks"]:
            if not check.get("passed"):
                by_check.setdefault(str(check.get("name")), []).append((sample["index"], str(check.get("evidence", ""))))
    for name, misses in by_check.items():
        index, evidence = misses[0]
        lines.append(f"{name}: failed in {len(misses)} of {k} samples (sample {index}: {evidence})")
    return "\n".join(lines)
