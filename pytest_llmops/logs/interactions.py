"""Logged interactions from JSON Lines: one object per line, read as a stream.

The schema (``docs/logs.md``)::

    {"id": "str (optional; default: the line number)",
     "timestamp": "ISO 8601 with a timezone, e.g. 2026-11-01T09:30:00Z (required)",
     "messages": [{"role": "system" | "user" | "assistant", "content": "str"}, ...],
     "answer": "str (required: the reply that was logged)",
     "model": "str (optional)",
     "metadata": {"segment": "free", ...} (optional; str, number or bool values),
     "contexts": ["retrieved passage", ...] (optional; RAG interactions),
     "expect_json": true | false (optional)}

:func:`read_interactions` yields one :class:`Interaction` per good line and one
:class:`LogLineError` per bad one (naming ``path:line``, the field and what was expected), so
one bad line never stops the others. The file is read line by line: memory does not grow
with the number of lines. Blank lines are skipped; keys outside the schema are ignored (logs
often carry more, such as latency or request ids).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROLES = ("system", "user", "assistant")
_SHOWN = 60  # characters of a bad value quoted in an error


@dataclass(frozen=True)
class Interaction:
    """One logged interaction: the prompt (chat messages), the answer and what was logged with it."""

    line: int
    id: str
    timestamp: datetime
    messages: tuple[tuple[str, str], ...]  # (role, content), in order
    answer: str
    model: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    contexts: tuple[str, ...] = ()
    expect_json: bool | None = None


@dataclass(frozen=True)
class LogLineError:
    """A line that could not be read: ``str()`` gives ``path:line: what was expected``."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class _BadLine(Exception):
    """Raised inside the parser of one line; becomes a :class:`LogLineError`."""


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _bad(name: str, expected: str, value: Any) -> _BadLine:
    return _BadLine(f"field '{name}': expected {expected}, got {_shown(value)}")


def parse_timestamp(value: Any, name: str = "timestamp") -> datetime:
    """An aware datetime from ISO 8601 text with a timezone (``Z`` or ``+02:00``)."""
    expected = "ISO 8601 with a timezone (e.g. 2026-11-01T09:30:00Z)"
    if not isinstance(value, str):
        raise _bad(name, expected, value)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _bad(name, expected, value) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _bad(name, expected, value)
    return parsed


def _messages(value: Any) -> tuple[tuple[str, str], ...]:
    expected = "a list of {role, content} objects with at least one user message"
    if not isinstance(value, list) or not value:
        raise _bad("messages", expected, value)
    out = []
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _bad(where, "an object with 'role' and 'content'", message)
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise _bad(f"{where}.role", f"one of {', '.join(ROLES)}", role)
        if not isinstance(content, str):
            raise _bad(f"{where}.content", "a string", content)
        out.append((role, content))
    if not any(role == "user" for role, _ in out):
        raise _BadLine("field 'messages': expected at least one user message, got none")
    return tuple(out)


def _metadata(value: Any) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise _bad("metadata", "an object of string, number or bool values", value)
    for key, item in value.items():
        if not isinstance(item, (str, int, float, bool)):
            raise _bad(f"metadata.{key}", "a string, number or bool", item)
    return MappingProxyType(dict(value))


def _contexts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise _bad("contexts", "a list of strings", value)
    return tuple(value)


def parse_line(data: Any, line: int) -> Interaction:
    """One decoded JSON value as an :class:`Interaction`; raises ``_BadLine`` saying what is wrong."""
    if not isinstance(data, dict):
        raise _BadLine(f"expected a JSON object per line, got {type(data).__name__} {_shown(data)}")
    for required in ("timestamp", "messages", "answer"):
        if required not in data:
            raise _BadLine(f"field '{required}': required, missing")
    ident = data.get("id", line)
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        raise _bad("id", "a string or an integer", ident)
    answer = data["answer"]
    if not isinstance(answer, str):
        raise _bad("answer", "a string (the logged reply)", answer)
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad("model", "a string", model)
    expect_json = data.get("expect_json")
    if expect_json is not None and not isinstance(expect_json, bool):
        raise _bad("expect_json", "true or false", expect_json)
    return Interaction(line=line, id=str(ident), timestamp=parse_timestamp(data["timestamp"]),
                       messages=_messages(data["messages"]), answer=answer, model=model,
                       metadata=_metadata(data.get("metadata")), contexts=_contexts(data.get("contexts")),
                       expect_json=expect_json)


def read_interactions(path: Path) -> Iterator[Interaction | LogLineError]:
    """Each line of the JSON Lines file ``path``, in order: an :class:`Interaction`, or a
    :class:`LogLineError` saying what was expected. Streams (one line in memory at a time).

    Raises ``OSError`` only when the file cannot be opened at all.
    """
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                yield LogLineError(path, number, f"not UTF-8 text (byte {exc.start})")
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield LogLineError(path, number, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            try:
                yield parse_line(data, number)
            except _BadLine as exc:
                yield LogLineError(path, number, str(exc))


def user_text(interaction: Interaction) -> str:
    """The last user message of the interaction's prompt (what the user asked this time)."""
    for role, content in reversed(interaction.messages):
        if role == "user":
            return content
    return ""  # unreachable for parsed lines: parse_line requires a user message
