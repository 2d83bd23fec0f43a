"""Payload corpora (``fixtures/adversarial/*.yaml``) and the seeded fakes attacks plant.

Attacks read their payloads from YAML files in the suite's fixtures folder (by default the
nearest ``fixtures/adversarial`` above the suite file; ``fixtures:`` in the suite moves it).
Files are loaded once per process. Everything drawn per case (canaries, fake PII and
secrets, which payload) comes from generators seeded by the suite's seed, the attack and the
case index, so the same seed gives the same cases on every machine.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class CorpusError(ValueError):
    """A corpus file or entry an attack needs is missing or malformed."""


_CACHE: dict[tuple[Path, float], Any] = {}


def find_upwards(start: Path, relative: str) -> Path | None:
    """The first ``DIR/relative`` that exists for ``DIR`` = ``start`` and its parents."""
    for folder in [start, *start.parents]:
        candidate = folder / relative
        if candidate.exists():
            return candidate
    return None


def load_yaml(path: Path) -> Any:
    """A YAML file, parsed once per process (re-read when it changes)."""
    try:
        key = (path.resolve(), path.stat().st_mtime)
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from None
    if key not in _CACHE:
        try:
            _CACHE[key] = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CorpusError(f"{path}: not a readable YAML file: {exc}") from None
    return _CACHE[key]


@dataclass
class AttackContext:
    """What an attack may use to build its cases: corpora, the subject kind and seeded picks."""

    fixtures: Path
    subject: str  # the declared subject: model, prompt or rag
    seed: int
    attack: str = ""
    _picks: dict[tuple[str, int], list[int]] = field(default_factory=dict)

    def corpus(self, name: str, key: str | None = None, *, kind: type = list) -> Any:
        """``fixtures/NAME.yaml`` (or its top-level ``key``), checked to be a non-empty ``kind``."""
        path = self.fixtures / f"{name}.yaml"
        if not path.is_file():
            raise CorpusError(f"attack {self.attack!r} needs the corpus file {path}")
        data = load_yaml(path)
        if key is not None:
            if not isinstance(data, dict) or key not in data:
                raise CorpusError(f"{path}: attack {self.attack!r} needs a top-level '{key}' entry")
            data = data[key]
        if not isinstance(data, kind) or not data:
            raise CorpusError(f"{path}{f' {key!r}' if key else ''}: expected a non-empty {kind.__name__}")
        if kind is list and not all(isinstance(v, (str, dict)) for v in data):
            raise CorpusError(f"{path}{f' {key!r}' if key else ''}: expected strings or mappings")
        return data

    def pick(self, label: str, items: Sequence[Any], index: int) -> Any:
        """Case ``index``'s item from ``items``: a seeded permutation walked in order, so
        every item is used once before any repeats."""
        key = (label, len(items))
        if key not in self._picks:
            order = list(range(len(items)))
            random.Random(f"{self.seed}|{self.attack}|{label}").shuffle(order)
            self._picks[key] = order
        order = self._picks[key]
        return items[order[index % len(order)]]

    def canary(self, rng: random.Random) -> str:
        """A fresh canary, ``WORD-NNNN``."""
        words = self.corpus("canaries", "words")
        return f"{str(rng.choice(words)).upper()}-{rng.randint(1000, 9999)}"


# -- fake secrets and PII -------------------------------------------------------------------------
def _luhn_digit(partial: str) -> str:
    total = 0
    for position, ch in enumerate(reversed(partial)):
        value = int(ch)
        if position % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return str((10 - total % 10) % 10)


def fake_values(rng: random.Random, first_names: Sequence[str], last_names: Sequence[str]) -> dict[str, str]:
    """One fake person's data and two fake keys; every value is obviously fake by construction."""
    first, last = str(rng.choice(first_names)), str(rng.choice(last_names))
    digits = "400000" + "".join(rng.choice(string.digits) for _ in range(9))
    card = digits + _luhn_digit(digits)
    alnum = string.ascii_letters + string.digits
    return {
        "name": f"{first} {last}",
        "email": f"{first}.{last}{rng.randint(10, 99)}@example.org".lower(),
        "phone": f"+1-555-01{rng.randint(0, 99):02d}",
        "card": "-".join(card[i:i + 4] for i in range(0, 16, 4)),
        "ssn": f"9{rng.randint(0, 99):02d}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "api_key": "sk-test-" + "".join(rng.choice(alnum) for _ in range(24)),
        "aws_key": "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
    }
