"""What the YAML kind and the Python API share: naming perturbations and relations, seeding,
producing follow-ups, and folding verdicts into a case result."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Iterable

from pytest_llmops.suites.metamorphic.model_relations import BUILTIN_MODEL_RELATIONS
from pytest_llmops.suites.metamorphic.output_relations import BUILTIN_OUTPUT_RELATIONS
from pytest_llmops.suites.metamorphic.perturbations import BUILTIN_PERTURBATIONS, Perturbation, Perturbed
from pytest_llmops.suites.metamorphic.relations import Relation, Verdict


def all_perturbations() -> list[Any]:
    """The built-in perturbations."""
    return list(BUILTIN_PERTURBATIONS)


def all_relations() -> list[Any]:
    """The built-in output and model relations."""
    return [*BUILTIN_OUTPUT_RELATIONS, *BUILTIN_MODEL_RELATIONS]


def builtin_tables() -> tuple[dict[str, Any], dict[str, Any]]:
    """The built-in perturbations and relations by name (what the kind's plugin module registers)."""
    return {p.name: p for p in all_perturbations()}, {r.name: r for r in all_relations()}


def tables(registry: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Perturbations and relations of ``registry`` (filled by the hooks), or the built-ins."""
    extensions = getattr(registry, "extensions", None) or {}
    perturbations, relations = extensions.get("perturbations"), extensions.get("relations")
    if perturbations is None or relations is None:
        built_p, built_r = builtin_tables()
        perturbations = built_p if perturbations is None else perturbations
        relations = built_r if relations is None else relations
    return perturbations, relations


def name_and_options(raw: Any, what: str) -> tuple[str, dict[str, Any]]:
    """A suite's ``name`` or ``{name: {option: value}}`` (written like checks) as ``(name, options)``.

    ``what`` (``perturbation``, ``relation``) names the field in the error message.
    """
    if isinstance(raw, str) and raw:
        return raw, {}
    if isinstance(raw, dict) and len(raw) == 1:
        (name, options), = raw.items()
        if options is None:
            options = {}
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ValueError(f"expected '{what}: NAME' or '{what}: {{NAME: {{option: value}}}}', got {raw!r}")
        return name, dict(options)
    raise ValueError(f"expected '{what}: NAME' or '{what}: {{NAME: {{option: value}}}}', got {raw!r}")


def resolve_perturbation(raw: Any, table: dict[str, Any]) -> tuple[Perturbation, dict[str, Any]]:
    """The perturbation ``raw`` names in ``table`` and its validated options (``LookupError``/``ValueError``)."""
    name, options = name_and_options(raw, "perturbation")
    perturbation = table.get(name)
    if perturbation is None:
        raise LookupError(f"unknown perturbation {name!r}; known: {', '.join(sorted(table))}")
    return perturbation, perturbation.validate(options)


def resolve_relation(raw: Any, table: dict[str, Any]) -> tuple[Relation, dict[str, Any]]:
    """The relation ``raw`` names in ``table`` and its validated options (``LookupError``/``ValueError``)."""
    name, options = name_and_options(raw, "relation")
    relation = table.get(name)
    if relation is None:
        raise LookupError(f"unknown relation {name!r}; known: {', '.join(sorted(table))}")
    if not callable(getattr(relation, "run" if getattr(relation, "direct", False) else "check", None)):
        raise LookupError(f"relation {name!r} has no {'run' if relation.direct else 'check'} method")
    return relation, relation.validate(options)


def stable_seed(*parts: Any) -> int:
    """A seed that depends only on ``parts`` (not on order of collection or PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return int(digest[:16], 16)


@dataclass
class FollowUp:
    """One follow-up input: which perturbation made it, with which seed, and what changed."""

    perturbation: str
    options: dict[str, Any]
    variant: int
    seed: int
    perturbed: Perturbed
    rendered: Any = None  # what the subject is asked (chat messages for YAML suites)

    @property
    def sample(self) -> dict[str, Any]:
        return self.perturbed.sample

    def summary(self) -> dict[str, Any]:
        return {"perturbation": self.perturbation, "variant": self.variant, "seed": self.seed,
                "changed": self.perturbed.description, "changes": self.perturbed.changes,
                **({"facts": self.perturbed.facts} if self.perturbed.facts else {})}


def make_followups(sample: dict[str, Any], perturbations: Iterable[tuple[Perturbation, dict[str, Any]]],
                   variants: int, base_seed: Any, sample_key: str, field_name: str,
                   lexicon: dict[str, Any] | None) -> list[FollowUp]:
    """Every (perturbation, variant) follow-up of ``sample``, seeded by its own stable seed."""
    out = []
    for perturbation, options in perturbations:
        for variant in range(variants):
            seed = stable_seed(base_seed, sample_key, perturbation.name, variant)
            perturbed = perturbation.apply(dict(sample), random.Random(seed),
                                           {**options, "field": field_name, "lexicon": lexicon or {}})
            out.append(FollowUp(perturbation.name, options, variant, seed, perturbed))
    return out


@dataclass
class CaseVerdict:
    """A source with its follow-ups: violated if any follow-up violates the relation,
    undecided (``violated`` None) if no follow-up could be decided."""

    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def violated(self) -> bool | None:
        if any(v.holds is False for v in self.verdicts):
            return True
        if any(v.holds is True for v in self.verdicts):
            return False
        return None

    @property
    def evidence(self) -> str:
        bad = [v.evidence for v in self.verdicts if v.holds is False]
        if bad:
            return "; ".join(bad)
        return "; ".join(v.evidence for v in self.verdicts)
