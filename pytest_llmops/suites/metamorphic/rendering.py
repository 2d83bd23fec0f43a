"""Rendering a metamorphic sample (source or follow-up) into the chat messages the subject is asked."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from pytest_llmops.suites.metamorphic.perturbations import LETTERS

DEFAULT_EXAMPLE_FORMAT = "Input: {text}\nOutput: {label}"
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)\}")


def fill(template: str, sample: dict[str, Any], example_format: str = DEFAULT_EXAMPLE_FORMAT) -> str:
    """``{field}`` placeholders filled from the sample (``{{``/``}}`` are literal braces).

    ``{options}`` becomes lettered lines (``A. ...``), ``{examples}`` the few-shot examples,
    each written with ``example_format``."""

    def value(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        name = m.group(1)
        if name not in sample:
            raise ValueError(f"the template's {{{name}}} has no value in this input (fields: {sorted(sample)})")
        item = sample[name]
        if name == "options" and isinstance(item, list):
            return "\n".join(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(item))
        if name == "examples" and isinstance(item, list):
            return "\n\n".join(fill(example_format, ex if isinstance(ex, dict) else {"text": ex}, example_format)
                               for ex in item)
        if isinstance(item, (dict, list)):
            return json.dumps(item, ensure_ascii=False)
        return str(item)

    return _PLACEHOLDER.sub(value, template)


class Renderer:
    """Turns a sample into the chat messages the subject is asked.

    ``model``: ``template`` (default ``{field}``) filled from the sample is the user message;
    ``prompt``: the suite's prompt template rendered with the sample's variables (a sample's
    ``system`` replaces the template's system prompt); ``rag``: ``reader(question, contexts)``
    is the user message.
    """

    def __init__(self, subject: str, template: str | None, system: str | None, field_name: str,
                 example_format: str, prompt_template: Any = None, reader: Callable[..., str] | None = None) -> None:
        self.subject = subject
        self.template = template
        self.system = system
        self.field = field_name
        self.example_format = example_format
        self.prompt_template = prompt_template
        self.reader = reader

    def messages(self, sample: dict[str, Any]) -> list[dict[str, str]]:
        """The chat messages for ``sample`` (``ValueError``/``KeyError`` when it lacks a field)."""
        system = sample.get("system", self.system)
        if self.subject == "prompt":
            variables = {k: v for k, v in sample.items() if k != "system"}
            messages = self.prompt_template.render(**variables)
            has_system = any(m["role"] == "system" for m in messages)
            if "system" in sample and has_system:
                messages = [{**m, "content": sample["system"]} if m["role"] == "system" else m for m in messages]
            elif system and not has_system:
                messages.insert(0, {"role": "system", "content": system})
            return messages
        if self.subject == "rag":
            user = str(self.reader(sample["question"], sample["contexts"]))
        else:
            user = fill(self.template or "{" + self.field + "}", sample, self.example_format)
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def system_of(messages: list[dict[str, str]]) -> str | None:
    """The system prompt of chat ``messages``, if any."""
    return next((m["content"] for m in messages if m["role"] == "system"), None)


def user_of(messages: list[dict[str, str]]) -> str:
    """The last user message of chat ``messages`` (empty without one)."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")

