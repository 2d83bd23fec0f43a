"""Deterministic checks for YAML cases.

Each check validates its argument at collection time (so a bad regex or schema is a
collection error naming the file, case and field) and evaluates an output at run time
into a :class:`CheckResult` with a score and evidence (what matched, and where).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pytest_llmops.core.json_text import NOT_FOUND, decode_first, fenced_body
from pytest_llmops.checks.embeddings import shared_embedder

_REFUSAL_PATTERNS = [
    # "I'm sorry" alone is sympathy, not a refusal: require a "but" or a refusal verb after it.
    r"\bI(?:'m| am) (?:sorry|afraid),? but\b",
    r"\bI (?:can(?:'|no)t|cannot|won't|will not|am not able to|'m not able to|am unable to|'m unable to)"
    r" (?:help|assist|provide|do|comply|share|give|create|write|support|fulfil|answer)",
    r"\b(?:can(?:'|no)t|cannot|won't|will not) (?:help|assist) (?:with|you with)\b",
    r"\bI must (?:decline|refuse)\b",
    r"\bnot (?:able|allowed|permitted) to (?:help|assist|provide|share)\b",
    r"\b(?:against|violates?) (?:my|the) (?:guidelines|policy|policies|principles)\b",
    r"\bAs an AI\b.*\b(?:cannot|can't|not able)\b",
    r"\bI (?:do not|don't) (?:feel comfortable|think I should)\b",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in _REFUSAL_PATTERNS), re.IGNORECASE | re.DOTALL)


@dataclass
class CheckResult:
    """The outcome of one check on one output."""

    name: str
    passed: bool
    score: float
    evidence: str
    arg: Any = None

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every argument, once per case and check.
        return {"name": self.name, "passed": self.passed, "score": self.score, "evidence": self.evidence,
                "arg": self.arg}


def detect_refusal(text: str) -> re.Match[str] | None:
    """The first refusal phrase in ``text``, if any."""
    return _REFUSAL_RE.search(text)


def _strings(arg: Any, name: str) -> list[str]:
    values = arg if isinstance(arg, list) else [arg]
    if not values or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"'{name}' expects a string or a list of strings, got {arg!r}")
    return [str(v) for v in values]


def _window(text: str, start: int, end: int, pad: int = 20) -> str:
    return text[max(0, start - pad):end + pad].replace("\n", " ")


class Check:
    """Base class: subclasses set ``name`` and implement ``validate`` and ``evaluate``."""

    name = ""

    def validate(self, arg: Any) -> Any:
        return arg

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        raise NotImplementedError

    def result(self, passed: bool, evidence: str, arg: Any, score: float | None = None) -> CheckResult:
        return CheckResult(self.name, passed, float(passed) if score is None else score, evidence, arg)


class Equals(Check):
    """Exact match after stripping surrounding whitespace."""

    name = "equals"

    def validate(self, arg: Any) -> Any:
        return _strings(arg, self.name)[0] if not isinstance(arg, list) else _strings(arg, self.name)

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        options = arg if isinstance(arg, list) else [arg]
        got = output.strip()
        ok = any(got == o.strip() for o in options)
        return self.result(ok, f"output {'equals' if ok else 'differs from'} {options!r}", arg)


class _Substring(Check):
    """Shared logic for the contains family."""

    ignore_case = False
    mode = "all"  # all: every value must appear; any: one is enough; none: no value may appear

    def validate(self, arg: Any) -> Any:
        return _strings(arg, self.name)

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        haystack = output.lower() if self.ignore_case else output
        hits: list[str] = []
        for value in arg:
            needle = value.lower() if self.ignore_case else value
            pos = haystack.find(needle)
            if pos >= 0:
                hits.append(f"{value!r} at {pos}: …{_window(output, pos, pos + len(needle))}…")
        found = len(hits)
        if self.mode == "all":
            ok, score = found == len(arg), found / len(arg)
        elif self.mode == "any":
            ok, score = found > 0, float(found > 0)
        else:
            ok, score = found == 0, float(found == 0)
        missing = [v for v in arg if (v.lower() if self.ignore_case else v) not in haystack]
        evidence = "; ".join(hits) if hits else "no match"
        if self.mode == "all" and missing:
            evidence = f"missing {missing!r}" + (f"; found {'; '.join(hits)}" if hits else "")
        return self.result(ok, evidence, arg, score)


class Contains(_Substring):
    name = "contains"


class IContains(_Substring):
    name = "icontains"
    ignore_case = True


class ContainsAny(_Substring):
    name = "contains-any"
    mode = "any"


class IContainsAny(_Substring):
    name = "icontains-any"
    ignore_case = True
    mode = "any"


class NotContains(_Substring):
    name = "not-contains"
    mode = "none"


class NotIContains(_Substring):
    name = "not-icontains"
    ignore_case = True
    mode = "none"


class Regex(Check):
    """``re.search`` with the pattern; case-insensitive with an ``(?i)`` prefix."""

    name = "regex"

    def validate(self, arg: Any) -> Any:
        if not isinstance(arg, str):
            raise ValueError(f"'regex' expects a pattern string, got {arg!r}")
        try:
            re.compile(arg)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {arg!r}: {exc}") from None
        return arg

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        match = re.search(arg, output)
        if match:
            return self.result(True, f"matched {match.group(0)!r} at {match.start()}", arg)
        return self.result(False, f"no match for /{arg}/", arg)


def extract_json(text: str) -> Any:
    """Parse JSON from an output, tolerating a Markdown code fence or text around one object."""
    stripped = text.strip()
    body = fenced_body(stripped)
    if body is not None:
        stripped = body.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    start = min((i for i in (stripped.find("{"), stripped.find("[")) if i >= 0), default=-1)
    value = decode_first(stripped, [start]) if start >= 0 else NOT_FOUND
    if value is not NOT_FOUND:
        return value
    return json.loads(stripped)  # re-raise with the parser's message


class IsJson(Check):
    """The output holds JSON; with ``{schema: {...}}`` it must also validate against the schema."""

    name = "is-json"

    def validate(self, arg: Any) -> Any:
        if arg is True or arg is None:
            return {}
        if not isinstance(arg, dict) or set(arg) - {"schema"}:
            raise ValueError(f"'is-json' expects true or {{schema: {{...}}}}, got {arg!r}")
        if "schema" in arg:
            import jsonschema  # jsonschema: only for suites with a JSON-schema check

            try:
                jsonschema.Draft202012Validator.check_schema(arg["schema"])
            except jsonschema.SchemaError as exc:
                raise ValueError(f"invalid JSON schema: {exc.message}") from None
        return arg

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        try:
            value = extract_json(output)
        except ValueError as exc:
            return self.result(False, f"not JSON: {exc}", arg)
        schema = arg.get("schema")
        if schema is None:
            return self.result(True, "valid JSON", arg)
        import jsonschema  # jsonschema: only for suites with a JSON-schema check

        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            return self.result(False, f"schema violation at {where}: {errors[0].message}", arg)
        return self.result(True, "valid JSON matching the schema", arg)


class MaxLength(Check):
    """At most N characters."""

    name = "max-length"

    def validate(self, arg: Any) -> Any:
        if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
            raise ValueError(f"'max-length' expects a non-negative integer, got {arg!r}")
        return arg

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        return self.result(len(output) <= arg, f"{len(output)} characters (max {arg})", arg)


class Similar(Check):
    """Embedding cosine similarity to a reference text is at least ``threshold`` (default 0.75)."""

    name = "similar"

    def validate(self, arg: Any) -> Any:
        if isinstance(arg, str):
            return {"value": arg, "threshold": 0.75}
        if not isinstance(arg, dict) or not isinstance(arg.get("value"), str) or set(arg) - {"value", "threshold"}:
            raise ValueError(f"'similar' expects a string or {{value: TEXT, threshold: 0..1}}, got {arg!r}")
        threshold = arg.get("threshold", 0.75)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
            raise ValueError(f"'similar.threshold' must be a number in [-1, 1], got {threshold!r}")
        return {"value": arg["value"], "threshold": float(threshold)}

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        score = shared_embedder().cosine(output, arg["value"])
        ok = score >= arg["threshold"]
        return self.result(ok, f"cosine {score:.3f} {'>=' if ok else '<'} {arg['threshold']}", arg, score)


class Refusal(Check):
    """``refusal: true`` expects a refusal; ``refusal: false`` expects a real answer."""

    name = "refusal"

    def validate(self, arg: Any) -> Any:
        if arg is None:
            return True
        if not isinstance(arg, bool):
            raise ValueError(f"'refusal' expects true or false, got {arg!r}")
        return arg

    def evaluate(self, output: str, arg: Any, context: dict[str, Any]) -> CheckResult:
        match = detect_refusal(output)
        refused = match is not None
        evidence = f"refusal phrase {match.group(0)!r} at {match.start()}" if match else "no refusal phrase"
        return self.result(refused == arg, evidence, arg)


BUILTIN_CHECKS: list[Check] = [
    Equals(), Contains(), IContains(), ContainsAny(), IContainsAny(), NotContains(), NotIContains(),
    Regex(), IsJson(), MaxLength(), Similar(), Refusal(),
]
