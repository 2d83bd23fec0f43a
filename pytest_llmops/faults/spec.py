"""What a ``fault:OPERATOR?rate=R&seed=S&inner=MODEL_SPEC`` model spec asks for, checked.

Every mistake is a :class:`FaultSpecError` (a ``ValueError``, which the session turns into a
usage error) that names the option at fault and what it accepts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_llmops.core.specs import ModelSpec, SpecError, parse_spec
from pytest_llmops.faults.operators import OPERATORS

DEFAULT_RATE = 0.3
DEFAULT_SEED = 0
DEFAULT_INNER = "smollm2"
OPTIONS = ("rate", "seed", "inner", "alias")


class FaultSpecError(ValueError):
    """A ``fault:`` spec with an unknown operator or a bad option."""


@dataclass(frozen=True)
class FaultOptions:
    """A parsed ``fault:`` spec: which operator, on which share of requests, wrapping which model."""

    operator: str
    rate: float
    seed: int
    inner: ModelSpec


def checked_operator(name: str) -> str:
    """``name`` when it is an operator of :data:`OPERATORS`."""
    if name not in OPERATORS:
        raise FaultSpecError(f"unknown fault operator {name!r}; known: {', '.join(sorted(OPERATORS))}")
    return name


def checked_rate(value: str | float) -> float:
    """``value`` as a share of requests in [0, 1]."""
    try:
        rate = float(value)
    except ValueError:
        raise FaultSpecError(f"rate={value!r}: expected a number in [0, 1]") from None
    if math.isnan(rate) or not 0.0 <= rate <= 1.0:
        raise FaultSpecError(f"rate={value!r}: expected a number in [0, 1]")
    return rate


def checked_seed(value: str | int) -> int:
    """``value`` as an integer seed."""
    try:
        return int(value)
    except ValueError:
        raise FaultSpecError(f"seed={value!r}: expected an integer") from None


def parse_fault_options(spec: ModelSpec) -> FaultOptions:
    """The options of a ``fault:`` spec, or a :class:`FaultSpecError` naming what is wrong."""
    unknown = sorted(set(spec.options) - set(OPTIONS))
    if unknown:
        raise FaultSpecError(f"unknown option(s) {unknown} in {spec.raw!r}; accepted: {', '.join(OPTIONS)} "
                             "(an inner spec's own '&' must be written %26)")
    inner_raw = spec.options.get("inner", DEFAULT_INNER)
    try:
        inner = parse_spec(inner_raw)
    except SpecError as exc:
        raise FaultSpecError(f"inner={inner_raw!r}: {exc}") from None
    return FaultOptions(operator=checked_operator(spec.target),
                        rate=checked_rate(spec.options.get("rate", DEFAULT_RATE)),
                        seed=checked_seed(spec.options.get("seed", DEFAULT_SEED)),
                        inner=inner)
