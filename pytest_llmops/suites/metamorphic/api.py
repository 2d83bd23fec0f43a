"""State a metamorphic relation over your own function (the ``metamorphic`` fixture).

::

    def test_classifier_ignores_typos(metamorphic):
        result = metamorphic.invariant(classify, ["I loved it", "Awful service"],
                                       perturbation="typos", relation="normalized-exact", variants=3)
        result.assert_holds()                      # or: assert result.violation_rate["value"] <= 0.1

``fn`` is called with each input and with each follow-up input, in the same form (a string
input gives string follow-ups; a mapping gives mappings); its outputs are compared by the
relation. Same perturbations, relations, seeding and no-op rule as the YAML suites, and the
same registry: perturbations and relations that plugins register are usable here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import yaml

from pytest_llmops.core.stats import rate_metric
from pytest_llmops.suites.metamorphic.core import (
    CaseVerdict,
    make_followups,
    resolve_perturbation,
    resolve_relation,
    tables,
)
from pytest_llmops.suites.metamorphic.relations import DIRECTIONAL, EQUIVARIANCE, INVARIANCE, Pair, quoted_excerpt


@dataclass
class CaseResult:
    """One input, its output, and each follow-up with the relation's verdict."""

    input: Any
    output: Any
    followups: list[dict[str, Any]] = field(default_factory=list)
    violated: bool | None = None  # None: undecided, or a no-op
    noop: bool = False
    evidence: str = ""


@dataclass
class MetamorphicResult:
    """All cases of one relation check, with the violation rate and a readable report."""

    relation: str
    perturbations: list[str]
    cases: list[CaseResult]

    @property
    def violations(self) -> list[CaseResult]:
        return [c for c in self.cases if c.violated]

    @property
    def noop_skipped(self) -> int:
        return sum(c.noop for c in self.cases)

    @property
    def undecided(self) -> int:
        return sum(1 for c in self.cases if not c.noop and c.violated is None)

    @property
    def n(self) -> int:
        """Cases where the relation was decided (no-ops and undecided cases left out)."""
        return sum(1 for c in self.cases if c.violated is not None)

    @property
    def violation_rate(self) -> dict[str, Any]:
        """``{"value", "ci95", "n"}`` (Wilson interval), like the YAML suites' metric."""
        return rate_metric(len(self.violations), self.n)

    def report(self, limit: int = 10) -> str:
        rate = self.violation_rate
        low, high = rate["ci95"]
        shown = "n/a" if rate["value"] is None else f"{rate['value']:.2f} [{low:.2f}, {high:.2f}]"
        lines = [(f"relation {self.relation} under {', '.join(self.perturbations)}: {len(self.violations)}/{self.n} "
                  f"violated, rate {shown}; {self.noop_skipped} no-op skipped, {self.undecided} undecided")]
        for case in self.violations[:limit]:
            bad = next((f for f in case.followups if f["holds"] is False), None)
            if bad is None:
                continue
            lines.append(f"  - {quoted_excerpt(case.input)} -> {quoted_excerpt(case.output)}")
            lines.append(f"    follow-up ({bad['changed']}): {quoted_excerpt(bad['input'])} "
                         f"-> {quoted_excerpt(bad['output'])}")
            lines.append(f"    {bad['evidence']}")
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        return "\n".join(lines)

    def assert_holds(self, max_violation_rate: float = 0.0) -> None:
        """Fail (AssertionError with the report) when the violation rate is above the limit."""
        value = self.violation_rate["value"] or 0.0
        if value > max_violation_rate:
            raise AssertionError(f"violation rate {value:.2f} > {max_violation_rate}\n{self.report()}")

    def __repr__(self) -> str:
        return f"<MetamorphicResult {self.report(limit=0)}>"


class Metamorphic:
    """The ``metamorphic`` fixture. ``registry`` holds the perturbations and relations (the
    run's, plugins included); ``seed`` is the run's ``--llm-seed``; ``lexicon`` the word lists
    (a mapping or a YAML path; default ``fixtures/metamorphic/lexicon.yaml`` under ``rootdir``
    when it exists)."""

    def __init__(self, registry: Any = None, seed: int = 0, lexicon: Any = None,
                 rootdir: Path | str | None = None) -> None:
        self.registry = registry
        self.seed = seed
        self.rootdir = Path(rootdir) if rootdir else Path.cwd()
        self._lexicon = lexicon

    @property
    def perturbations(self) -> dict[str, Any]:
        return tables(self.registry)[0]

    @property
    def relations(self) -> dict[str, Any]:
        return tables(self.registry)[1]

    def lexicon(self, value: Any = None) -> dict[str, Any]:
        value = self._lexicon if value is None else value
        if value is None:
            default = self.rootdir / "fixtures" / "metamorphic" / "lexicon.yaml"
            value = default if default.is_file() else {}
        if isinstance(value, (str, Path)):
            path = Path(value)
            path = path if path.is_absolute() else self.rootdir / path
            value = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise ValueError("lexicon: expected a mapping or a YAML file holding one")
        return value

    def check(self, fn: Callable[[Any], Any], inputs: Iterable[Any], *, relation: Any,
              perturbation: Any = None, perturbations: Sequence[Any] | None = None, variants: int = 1,
              seed: int | None = None, field: str = "text", lexicon: Any = None,
              _family: str | None = None) -> MetamorphicResult:
        """Apply the perturbation(s) to every input, call ``fn`` on the source and each
        follow-up, and check ``relation`` between the outputs.

        ``perturbation``/``relation``: a name or ``{name: {option: value}}`` as in YAML.
        ``field``: the field text perturbations edit when inputs are mappings.
        """
        perturbation_table, relation_table = tables(self.registry)
        rel, rel_options = resolve_relation(relation, relation_table)
        if rel.direct:
            raise ValueError(f"{rel.name!r} is a model relation: it needs a provider; use it in a YAML suite")
        if _family and rel.family != _family:
            raise ValueError(f"{rel.name!r} is a {rel.family} relation, not {_family}")
        specs = list(perturbations or ([] if perturbation is None else [perturbation]))
        if not specs:
            raise ValueError("give a perturbation (or perturbations)")
        perts = [resolve_perturbation(spec, perturbation_table) for spec in specs]
        if isinstance(variants, bool) or not isinstance(variants, int) or variants < 1:
            raise ValueError("variants must be a positive integer")
        words = self.lexicon(lexicon)
        base_seed = self.seed if seed is None else seed
        cases: list[CaseResult] = []
        for index, value in enumerate(inputs):
            as_text = isinstance(value, str)
            sample = {field: value} if as_text else dict(value)
            followups = make_followups(sample, perts, variants, base_seed, f"api|{index}", field, words)
            live = []
            for followup in followups:
                if followup.sample != sample and all(followup.sample != f.sample for f in live):
                    live.append(followup)
            if not live:
                cases.append(CaseResult(input=value, output=None, noop=True,
                                        evidence="no-op: " + ", ".join(sorted({f.perturbation for f in followups}))))
                continue
            output = fn(value)
            verdicts = []
            entries = []
            for followup in live:
                given = followup.sample[field] if as_text else followup.sample
                result = fn(given)
                verdict = rel.check(Pair(output, result, sample, followup.sample, followup.perturbed.changes),
                                    rel_options)
                verdicts.append(verdict)
                entries.append({**followup.summary(), "input": given, "output": result, "holds": verdict.holds,
                                "evidence": verdict.evidence, "details": verdict.details})
            folded = CaseVerdict(verdicts)
            cases.append(CaseResult(input=value, output=output, followups=entries, violated=folded.violated,
                                    evidence=folded.evidence))
        return MetamorphicResult(rel.name, [p.name for p, _ in perts], cases)

    def invariant(self, fn: Callable[[Any], Any], inputs: Iterable[Any], perturbation: Any = "typos",
                  relation: Any = "normalized-exact", **kwargs: Any) -> MetamorphicResult:
        """The output must not change under the perturbation (an invariance relation)."""
        return self.check(fn, inputs, perturbation=perturbation, relation=relation, _family=INVARIANCE, **kwargs)

    def equivariant(self, fn: Callable[[Any], Any], inputs: Iterable[Any], perturbation: Any = "permute-options",
                    relation: Any = "follows-option", **kwargs: Any) -> MetamorphicResult:
        """The output must change the way the input did (e.g. follow a permuted option)."""
        return self.check(fn, inputs, perturbation=perturbation, relation=relation, _family=EQUIVARIANCE, **kwargs)

    def directional(self, fn: Callable[[Any], Any], inputs: Iterable[Any], perturbation: Any,
                    relation: Any, **kwargs: Any) -> MetamorphicResult:
        """The output must change in a stated direction (e.g. negation flips a label)."""
        return self.check(fn, inputs, perturbation=perturbation, relation=relation, _family=DIRECTIONAL, **kwargs)
