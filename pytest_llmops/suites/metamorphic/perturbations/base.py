"""The perturbation protocol: what a perturbation returns and the base classes."""


from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Sequence


# -- the protocol --------------------------------------------------------------------------


@dataclass
class Perturbed:
    """A follow-up sample and what was changed to get it (empty ``changes``: a no-op)."""

    sample: dict[str, Any]
    changes: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # about the whole edit (e.g. its edit distance)

    @property
    def description(self) -> str:
        """One line for reports: the changes, or ``no change``."""
        if not self.changes:
            return "no change"
        return "; ".join(describe_change(c) for c in self.changes)


def describe_change(change: dict[str, Any]) -> str:
    """One change as a line for reports: ``op at N: 'before' -> 'after'``."""
    op = change.get("op", "change")
    if "before" in change and "after" in change:
        where = f" at {change['at']}" if "at" in change else ""
        return f"{op}{where}: {_short(change['before'])} -> {_short(change['after'])}"
    if "from" in change and "to" in change:
        return f"{op}: {_short(change['from'])} -> {_short(change['to'])}"
    rest = {k: v for k, v in change.items() if k != "op"}
    return f"{op} {json.dumps(rest, ensure_ascii=False)}" if rest else op


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Perturbation:
    """Base class. Subclasses set ``name`` and ``description`` and implement ``apply``.

    ``validate(options)`` checks the options a suite gives (raise ``ValueError`` naming the
    option) and returns them normalised. ``apply(sample, rng, options)`` gets those options
    plus ``field`` (the sample field a text perturbation edits, ``text`` by default) and
    ``lexicon`` (the suite's word lists, possibly empty) and must not modify ``sample``.
    """

    name = ""
    description = ""
    #: the perturbation only reorders RAG contexts (its cases feed the position-gap metric)
    reorders_contexts = False
    #: option names this perturbation accepts (besides ``field`` and ``lexicon``)
    options: tuple[str, ...] = ()

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise ValueError(f"unknown option {unknown[0]!r} for perturbation {self.name!r}; accepted: {accepted}")
        return dict(options)

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        raise NotImplementedError


class TextPerturbation(Perturbation):
    """A perturbation of one text field of the sample (``options["field"]``, default ``text``)."""

    def apply(self, sample: dict[str, Any], rng: random.Random, options: dict[str, Any]) -> Perturbed:
        name = options.get("field") or "text"
        text = sample.get(name)
        if not isinstance(text, str):
            raise ValueError(f"perturbation {self.name!r} edits the text field {name!r}, which this sample "
                             f"does not have (fields: {sorted(sample)})")
        new, changes = self.perturb_text(text, rng, options)
        if new == text:
            return Perturbed(dict(sample), [])
        for change in changes:
            change.setdefault("field", name)
        return Perturbed({**sample, name: new}, changes, self.facts(text, new, options))

    def facts(self, before: str, after: str, options: dict[str, Any]) -> dict[str, Any]:
        """Facts about the whole edit, recorded next to the changes."""
        return {}

    def perturb_text(self, text: str, rng: random.Random, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        raise NotImplementedError


def positive_int_option(options: dict[str, Any], key: str, default: int) -> int:
    """Option ``key`` of a perturbation (``default`` when absent), which must be a positive integer.

    Raises ``ValueError`` naming the option; the caller reports it against the suite's field.
    """
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"option {key!r} must be a positive integer, got {value!r}")
    return value


def choice_list_option(options: dict[str, Any], key: str, allowed: Sequence[str],
                       default: Sequence[str]) -> list[str]:
    """Option ``key`` as a non-empty list of names from ``allowed`` (one name counts as a list of one)."""
    value = options.get(key, list(default))
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"option {key!r} must be one of {list(allowed)} or a list of them, got {value!r}")
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"option {key!r}: {bad[0]!r} is not one of {list(allowed)}")
    return list(values)


