"""Candidate against baseline, answer by answer, where a reference-based metric is blind.

Every compared case gets:
- ``same``: the two answers are equal (after trimming whitespace);
- ``similarity``: cosine of their all-MiniLM-L6-v2 embeddings (1 when equal);
- ``verdict``: ``same``, ``worse``, ``better`` or ``tie`` (changed, no clear direction), from
  signals a reader would use: a gated metric that flipped, a detector that fires on one answer
  and not the other (hedging, repetition, another language, empty, refusal), and fluency under
  the fixed scoring model falling (or rising) by more than a factor :data:`FLUENCY_RATIO`.

The suite-level test is an **alarm**: a one-sided exact sign test on the changed answers
(worse against better; ties and equal answers carry no information). Under "no change for
the worse" each decided change is a fair coin, so sampling noise, which changes answers both
ways, cannot raise it beyond its level; answers that changed mostly for the worse do. Its
p-value joins the gated metrics' Holm family. The alarm can only make a suite ``regressed``:
a model whose answers changed both ways is not thereby "inconclusive", since the gated
metrics answer the non-inferiority question. The **net change** (share better minus share
worse, with a bootstrap interval) is reported for reading. Sensitivity and false alarms are
measured in ``benchmarks/regression_sensitivity.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

#: A changed answer whose per-token likelihood is below 1/1.5 of the baseline's is worse (above
#: 1.5 times, better). The factor only sorts changes into worse, better and tie; the sign
#: test's false-alarm rate does not depend on it, since sampling noise moves both ways.
FLUENCY_RATIO = 1.5
VERDICT_SCORE = {"worse": -1.0, "better": 1.0, "same": 0.0, "tie": 0.0}
_SIGNALS = ("no_hedging", "no_repetition", "english", "not_empty", "no_refusal")


@dataclass(frozen=True)
class AgreementSpec:
    """The suite's ``agreement:`` setting."""

    gate: bool = True
    enabled: bool = True

    @classmethod
    def parse(cls, raw: Any) -> "AgreementSpec":
        """``true``/``false`` or ``{gate: bool}``; ValueError says what was expected."""
        if raw is None or raw is True:
            return cls()
        if raw is False:
            return cls(enabled=False, gate=False)
        if not isinstance(raw, Mapping) or set(raw) - {"gate"}:
            raise ValueError(f"expected true, false or {{gate: true|false}}; got {raw!r}")
        gate = raw.get("gate", True)
        if not isinstance(gate, bool):
            raise ValueError(f"gate: expected true or false, got {gate!r}")
        return cls(gate=gate)

    def config(self) -> dict[str, Any]:
        return {"gate": self.gate}


def signals(text: str) -> dict[str, str]:
    """Which reference-free detectors fire on ``text``: detector -> evidence."""
    from pytest_llmops.suites.regression.metrics import detector  # checks.quality, on first use

    found: dict[str, str] = {}
    for name in _SIGNALS:
        hit = detector(name)(text)
        if hit:
            found[name] = hit if isinstance(hit, str) else getattr(hit, "group", lambda: name)()
    return found


def compare_answers(candidate: str, baseline: str, flipped: Mapping[str, str],
                    fluency: tuple[float, float] | None,
                    similarity: Callable[[str, str], float] | None) -> dict[str, Any]:
    """One case's agreement record; ``flipped`` maps gated metric -> "regressed"/"improved"."""
    if candidate.strip() == baseline.strip():
        return {"same": True, "similarity": 1.0, "verdict": "same"}
    worse = [f"{name} failed" for name, way in flipped.items() if way == "regressed"]
    better = [f"{name} passed" for name, way in flipped.items() if way == "improved"]
    mine, theirs = signals(candidate), signals(baseline)
    worse += [f"{name}: {evidence}" for name, evidence in mine.items() if name not in theirs]
    better += [f"{name} cleared" for name in theirs if name not in mine]
    if fluency is not None:
        cand, base = fluency
        ratio = (cand + 1e-9) / (base + 1e-9)
        if ratio < 1 / FLUENCY_RATIO:
            worse.append(f"fluency {base:.3f} -> {cand:.3f}")
        elif ratio > FLUENCY_RATIO:
            better.append(f"fluency {base:.3f} -> {cand:.3f}")
    verdict = "worse" if worse and not better else "better" if better and not worse else "tie"
    record: dict[str, Any] = {"same": False, "verdict": verdict, "worse": worse, "better": better}
    if similarity is not None:
        record["similarity"] = round(max(0.0, float(similarity(candidate, baseline))), 6)
    return record


def sign_test_worse(worse: int, better: int) -> float:
    """One-sided exact sign test: P(at least ``worse`` of the decided changes are worse | fair coin)."""
    from pytest_llmops.core.stats import binomial_cdf

    n = worse + better
    if n == 0:
        return 1.0
    return max(0.0, min(1.0, 1.0 - binomial_cdf(worse - 1, n, 0.5)))


def smallest_alarm(family_size: int, alpha: float = 0.025) -> int:
    """How many answers changed for the worse (none for the better) raise the alarm alone.

    The sign test's p-value with ``k`` worse and 0 better is ``0.5 ** k``; under Holm the
    alarm's p-value is multiplied by at most the number of gated tests.
    """
    k = 1
    while 0.5 ** k * max(1, family_size) >= alpha:
        k += 1
    return k
