"""What every provider accepts and returns, with no heavy imports."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

Message = dict[str, str]


class InfraError(RuntimeError):
    """The model could not be asked (endpoint down, timeout, out of retries, broken stream).

    An infra error is never a model output: the case is reported as ``error``, it is never
    cached, and it never counts as a pass or as a failed check.
    """


@dataclass(frozen=True)
class GenerationParams:
    """Decoding parameters. Greedy (temperature 0) by default, so runs are deterministic."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "seed": self.seed, "stop": list(self.stop)}

    @classmethod
    def from_mapping(cls, data: dict[str, Any], base: "GenerationParams | None" = None) -> "GenerationParams":
        """Build params from a YAML/kwargs mapping on top of ``base``; unknown keys raise ``KeyError``."""
        merged = (base or cls()).as_dict()
        for key, value in data.items():
            if key not in merged:
                raise KeyError(key)
            merged[key] = value
        stop = merged["stop"]
        merged["stop"] = tuple([stop] if isinstance(stop, str) else stop)
        return cls(
            max_new_tokens=int(merged["max_new_tokens"]),
            temperature=float(merged["temperature"]),
            top_p=float(merged["top_p"]),
            seed=int(merged["seed"]),
            stop=tuple(str(s) for s in merged["stop"]),
        )


@dataclass(frozen=True)
class GenerationRequest:
    """One thing to generate: chat messages (or a raw prompt), parameters and a sample index."""

    messages: tuple[tuple[str, str], ...]
    params: GenerationParams = field(default_factory=GenerationParams)
    sample_index: int = 0
    raw_prompt: str | None = None  # set when the chat template is bypassed
    # A JSON schema (canonical JSON text) the answer must follow: providers that can constrain
    # decoding to it do (hf through llguidance, OpenAI-compatible servers through
    # response_format). Text, not a dict, so that requests stay hashable.
    response_schema: str | None = None

    @classmethod
    def chat(cls, messages: Sequence[Message], params: GenerationParams | None = None,
             sample_index: int = 0) -> "GenerationRequest":
        return cls(tuple((m["role"], m["content"]) for m in messages), params or GenerationParams(),
                   sample_index)

    @classmethod
    def prompt(cls, text: str, system: str | None = None, params: GenerationParams | None = None,
               sample_index: int = 0, response_schema: dict[str, Any] | None = None) -> "GenerationRequest":
        messages: list[Message] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": text})
        request = cls.chat(messages, params, sample_index)
        if response_schema is not None:
            request = dataclasses.replace(request, response_schema=json.dumps(response_schema, sort_keys=True))
        return request

    def message_dicts(self) -> list[Message]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def content_key(self) -> str:
        """A stable digest of what is asked (messages, params, sample index)."""
        payload: dict[str, Any] = {"messages": self.messages, "raw": self.raw_prompt,
                                   "params": self.params.as_dict(), "sample": self.sample_index}
        if self.response_schema is not None:
            # Only when set, so every unconstrained request keeps the key it always had.
            payload["schema"] = self.response_schema
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class Generation:
    """A model's answer to one request.

    ``input_tokens`` and ``output_tokens`` are what the provider counted (the tokenizer for
    local models, the API's ``usage`` for endpoints); ``cached_input_tokens`` is the part of
    the prompt an endpoint read from its own prompt cache (billed at a lower price by some
    APIs). ``tokens_estimated`` marks counts guessed from the text (see :func:`estimate_tokens`)
    where the provider reported none. ``reused`` marks an answer this run already produced
    for another case (the same request twice, e.g. an identical prompt variant): served again,
    not paid again.
    """

    text: str
    output_tokens: int | None = None
    finish_reason: str | None = None
    seconds: float = 0.0  # wall time of the call (or share of the batch) that produced it
    batch_size: int = 1
    cached: bool = False
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    tokens_estimated: bool = False
    reused: bool = False

    def to_cache(self) -> dict[str, Any]:
        return {"text": self.text, "output_tokens": self.output_tokens,
                "finish_reason": self.finish_reason, "seconds": self.seconds,
                "batch_size": self.batch_size, "input_tokens": self.input_tokens,
                "cached_input_tokens": self.cached_input_tokens, "tokens_estimated": self.tokens_estimated}

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> "Generation":
        # Rows written before a field existed load with its default; keys this version does
        # not know (a newer writer) are left out rather than refused.
        known = {f.name for f in dataclasses.fields(cls)} - {"cached", "reused"}
        return cls(cached=True, **{key: value for key, value in data.items() if key in known})

    def usage(self) -> dict[str, Any]:
        """The token counts of this answer and whether it came from the response cache, or was
        served again within this run (for records)."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cached_input_tokens": self.cached_input_tokens, "tokens_estimated": self.tokens_estimated,
                "cached": self.cached, "reused": self.reused}


#: Characters per token when a count has to be guessed: OpenAI's rule of thumb for English text.
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """A token count guessed from ``text`` alone: one token per four characters, rounded up.

    Only for endpoints that report no ``usage``; the results are marked ``tokens_estimated``.
    """
    return -(-len(text) // CHARS_PER_TOKEN)


#: Chat-format tokens around each message and before the reply, as OpenAI's cookbook counts
#: them for its chat models ("How to count tokens with tiktoken": 3 per message, 3 for the reply).
TOKENS_PER_MESSAGE = 3
TOKENS_BEFORE_REPLY = 3


def estimate_prompt_tokens(request: GenerationRequest) -> int:
    """A request's prompt tokens guessed from its text: :func:`estimate_tokens` of each message
    plus the chat format's tokens per message and before the reply (a raw prompt: its text only)."""
    if request.raw_prompt is not None:
        return estimate_tokens(request.raw_prompt)
    return (sum(estimate_tokens(content) + TOKENS_PER_MESSAGE for _, content in request.messages)
            + TOKENS_BEFORE_REPLY)


class Provider(Protocol):
    """A loaded model. Providers are created lazily, on first use, by the engine."""

    alias: str

    def fingerprint(self) -> str:
        """Identity of the model and of everything that turns messages into tokens.

        Weights hash plus tokenizer/template hash for local models; endpoint and model name
        for remote ones. Part of every cache key.
        """

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        """Generate all ``requests``; an infra failure of one request is returned, not raised."""

    def describe(self) -> dict[str, Any]:
        """Facts for the report (device, dtype, endpoint...) without any secret."""

    def close(self) -> None:
        """Release resources (servers, clients, GPU memory)."""
