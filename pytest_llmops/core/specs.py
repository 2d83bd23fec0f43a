"""Model specs: the strings users pass to ``--llm-model``.

A spec is parsed syntactically here (cheap, no provider imports) so that a typo is an
argparse usage error; whether the provider exists is checked once plugins are loaded.

Accepted forms::

    smollm2                               the embedded SmolLM2-135M-Instruct
    hf:PATH_OR_HUB_ID[?opt=val&...]       transformers + torch (dtype, device, gguf, chat_template, alias)
    openai:MODEL@BASE_URL[?opt=val&...]   any OpenAI-compatible endpoint (api_key_env, alias, timeout, ...)
    fault:OPERATOR[?opt=val&...]          another model with planted faults (rate, seed, inner, alias)
    NAME:TARGET[?opt=val&...]             a provider registered by a plugin
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

SPEC_FORMS = (
    "smollm2",
    "hf:PATH_OR_HUB_ID[?dtype=auto|float32|float16|bfloat16&device=auto|cpu|cuda&gguf=FILE&chat_template=on|off&alias=NAME]",
    "openai:MODEL@BASE_URL[?api_key_env=ENV_VAR&alias=NAME&timeout=SECONDS&concurrency=N&max_retries=N]",
    "fault:OPERATOR[?rate=0..1&seed=INT&inner=MODEL_SPEC&alias=NAME]",
)

_PROVIDER_RE = re.compile(r"^[a-z][a-z0-9_\-]*$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")

# Options that would put a secret into a spec (and so into reports and logs).
_FORBIDDEN_OPTIONS = {"api_key", "key", "token", "password"}


class SpecError(ValueError):
    """A model spec that cannot be parsed; the message lists the accepted forms."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: which provider, what target, which options, under which alias."""

    raw: str
    provider: str
    target: str
    options: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        # A value: equal specs hash alike, so a spec can key a dict or sit in a set (the
        # options mapping is never changed after parsing).
        return hash((self.raw, self.provider, self.target, tuple(sorted(self.options.items()))))

    @property
    def alias(self) -> str:
        """The short name used in test ids and report keys."""
        if "alias" in self.options:
            return self.options["alias"]
        if self.provider == "smollm2":
            return "smollm2"
        if self.provider == "openai":
            return _sanitize_alias(self.target.split("@", 1)[0])
        if self.provider == "fault":
            # Fault specs compared in one run differ by operator, rate or seed, rarely by target alone.
            given = [self.options[name] for name in ("rate", "seed") if name in self.options]
            return _sanitize_alias("-".join(["fault", self.target, *given]))
        return _sanitize_alias(self.target.rstrip("/").rsplit("/", 1)[-1] or self.provider)


def _sanitize_alias(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-") or "model"


def _error(raw: str, why: str) -> SpecError:
    forms = "\n  ".join(SPEC_FORMS)
    return SpecError(f"invalid model spec {raw!r}: {why}. Accepted forms:\n  {forms}")


def parse_spec(raw: str) -> ModelSpec:
    """Parse ``raw`` into a :class:`ModelSpec`, raising :class:`SpecError` when malformed."""
    text = raw.strip()
    if not text:
        raise _error(raw, "it is empty")
    body, _, query = text.partition("?")
    if body in ("smollm2", "smollm2:"):
        body = "smollm2:"
    if ":" not in body:
        raise _error(raw, "expected PROVIDER:TARGET (or the bare name 'smollm2')")
    provider, target = body.split(":", 1)
    provider = provider.lower()
    if not _PROVIDER_RE.match(provider):
        raise _error(raw, f"provider name {provider!r} is not a lowercase identifier")
    options = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    leaked = _FORBIDDEN_OPTIONS & set(options)
    if leaked:
        raise _error(raw, f"option {sorted(leaked)[0]!r} would put a secret on the command line; "
                     "name the environment variable that holds it with api_key_env=VAR")
    if "alias" in options and not _ALIAS_RE.match(options["alias"]):
        raise _error(raw, f"alias {options['alias']!r} may only use letters, digits, '.', '_' and '-'")
    if provider == "smollm2":
        return ModelSpec(raw=text, provider="smollm2", target="", options=options)
    if not target:
        raise _error(raw, f"provider {provider!r} needs a target after the colon")
    if provider == "openai":
        model, at, base_url = target.partition("@")
        if not model or not at or not re.match(r"^https?://", base_url):
            raise _error(raw, "openai specs are openai:MODEL@BASE_URL with an http(s) base URL")
    return ModelSpec(raw=text, provider=provider, target=target, options=options)


def argparse_spec(raw: str) -> ModelSpec:
    """argparse ``type=`` hook: a malformed spec becomes a usage error."""
    try:
        return parse_spec(raw)
    except SpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
