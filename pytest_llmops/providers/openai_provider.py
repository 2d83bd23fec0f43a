"""OpenAI-compatible endpoints (vLLM, llama.cpp server, TGI, OpenAI) through the ``openai`` client.

Requests run with bounded async concurrency. 429, 5xx, timeouts and connection failures
are retried with exponential backoff; when retries run out the request's result is an
:class:`InfraError`, never an output. The API key is read from an environment variable
whose *name* is configurable; the key itself never appears in specs, reports or logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import time
from typing import Any, Sequence

from pytest_llmops.providers.base import (
    Generation, GenerationRequest, InfraError, estimate_prompt_tokens, estimate_tokens,
)
from pytest_llmops.core.specs import ModelSpec

_OPTIONS = ("alias", "api_key_env", "timeout", "concurrency", "max_retries", "schema_format")

# How a request's JSON schema is sent. OpenAI, vLLM and llama.cpp's llama-server take
# `json_schema`; llama-cpp-python's server takes only `json_object` with a `schema` (it answers
# `json_schema` with HTTP 500 and a validation error).
SCHEMA_FORMATS = ("json_schema", "json_object")


def check_openai_spec(spec: ModelSpec) -> None:
    """Raise ``ValueError`` naming a bad option of an ``openai:MODEL@BASE_URL`` spec (run when the run starts)."""
    unknown = set(spec.options) - set(_OPTIONS)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} in {spec.raw!r}; accepted: {', '.join(_OPTIONS)}")
    schema_format = spec.options.get("schema_format")
    if schema_format is not None and schema_format not in SCHEMA_FORMATS:
        raise ValueError(f"schema_format={schema_format!r} in {spec.raw!r}; expected one of {', '.join(SCHEMA_FORMATS)}")
    numbers = {"timeout": (float, "a number of seconds above 0"), "concurrency": (int, "a whole number of at least 1"),
               "max_retries": (int, "a whole number of at least 0")}
    for name, (kind, expected) in numbers.items():
        text = spec.options.get(name)
        if text is None:
            continue
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < (0 if name == "max_retries" else 1e-9 if name == "timeout" else 1):
            raise ValueError(f"{name}={text!r} in {spec.raw!r}; expected {expected}")


class OpenAIProvider:
    """Chat completions against ``BASE_URL`` for model ``MODEL``."""

    def __init__(self, spec: ModelSpec) -> None:
        check_openai_spec(spec)
        self.spec = spec
        self.alias = spec.alias
        self.model_name, _, self.base_url = spec.target.partition("@")
        self.api_key_env = spec.options.get("api_key_env", "OPENAI_API_KEY")
        self.timeout = float(spec.options.get("timeout", 120))
        self.concurrency = int(spec.options.get("concurrency", 8))
        # The engine hands over one chunk per generate_batch call, and the endpoint idles while
        # a chunk's last requests finish: eight waves per chunk keep that tail a small share, and
        # a chunk never holds fewer requests than may be in flight (64 used to cap concurrency).
        self.preferred_chunk_size = max(64, 8 * self.concurrency)
        # Five retries: at 30% HTTP 500 plus 10% malformed bodies, 3 left 1.3 of 52 cases errored
        # per run on average and 5 leave 0.2 (benchmarks/endpoint_faults.py); a retry costs backoff only.
        self.max_retries = int(spec.options.get("max_retries", 5))
        self.backoff_base = 0.5
        self.schema_format = spec.options.get("schema_format", "json_schema")
        self._schema_format_chosen = "schema_format" in spec.options

    def fingerprint(self) -> str:
        """Endpoint + model name: what the remote side serves is outside our view."""
        return hashlib.sha256(f"openai|{self.base_url.rstrip('/')}|{self.model_name}".encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"provider": "openai", "base_url": self.base_url, "model": self.model_name,
                "api_key_env": self.api_key_env, "device": "remote", "gpu": None}

    def _client(self) -> Any:
        from openai import AsyncOpenAI  # openai: only when an endpoint is called

        # Local servers need no key; a placeholder keeps the client from refusing to start.
        key = os.environ.get(self.api_key_env) or "no-key"
        return AsyncOpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=0)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        return asyncio.run(self._generate_all(requests))

    async def _generate_all(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        client = self._client()
        gate = asyncio.Semaphore(max(1, self.concurrency))
        try:
            return list(await asyncio.gather(*(self._one(client, gate, r) for r in requests)))
        finally:
            await client.close()

    async def _one(self, client: Any, gate: asyncio.Semaphore, request: GenerationRequest) -> Generation | InfraError:
        async with gate:
            last: BaseException | None = None
            for attempt in range(self.max_retries + 1):
                try:
                    return await self._call(client, request)
                except Exception as exc:  # noqa: BLE001 - classified below
                    if not _retryable(exc):
                        return InfraError(f"{self.alias}: {_describe(exc, self)}")
                    last = exc
                    if attempt < self.max_retries:
                        delay = self.backoff_base * (2 ** attempt) * (1 + random.random() / 4)
                        await asyncio.sleep(delay)
            return InfraError(f"{self.alias}: gave up after {self.max_retries + 1} attempts: {_describe(last, self)}")

    async def _call(self, client: Any, request: GenerationRequest) -> Generation:
        params = request.params
        kwargs: dict[str, Any] = {
            "model": self.model_name,
            "messages": request.message_dicts(),
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed + request.sample_index,
        }
        if params.stop:
            kwargs["stop"] = list(params.stop)
        start = time.perf_counter()
        if request.response_schema is None:
            response = await client.chat.completions.create(**kwargs)
        else:
            response = await self._create_constrained(client, kwargs, json.loads(request.response_schema))
        seconds = time.perf_counter() - start
        choice = self._checked_choice(response)
        text = choice.message.content or ""
        return Generation(text=text, finish_reason=choice.finish_reason, seconds=seconds,
                          **token_counts(getattr(response, "usage", None), request, text))

    async def _create_constrained(self, client: Any, kwargs: dict[str, Any], schema: dict[str, Any]) -> Any:
        """A completion constrained to ``schema``; learns once that a server takes only ``json_object``."""
        from openai import APIStatusError  # openai: only when an endpoint is called

        try:
            return await client.chat.completions.create(**kwargs, response_format=self._response_format(schema))
        except APIStatusError as exc:
            # llama-cpp-python's server refuses `json_schema` (HTTP 500 with a validation error
            # that names 'json_object'); its `json_object` takes a schema instead.
            if self._schema_format_chosen or self.schema_format == "json_object" or "json_object" not in str(exc):
                raise
            self.schema_format, self._schema_format_chosen = "json_object", True
            return await client.chat.completions.create(**kwargs, response_format=self._response_format(schema))

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The ``response_format`` that makes the server constrain decoding to ``schema``."""
        if self.schema_format == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    def _checked_choice(self, response: Any) -> Any:
        """The response's first choice, or :class:`_BrokenResponse` (retried) when the body is not a
        complete answer from the model asked: an answer recorded from a broken body would be judged."""
        if isinstance(response, (str, bytes)) or not hasattr(response, "choices"):
            raise _BrokenResponse(f"HTTP 200 with a body that is not a chat completion: {str(response)[:120]!r}")
        choices = response.choices
        if not choices:
            raise _BrokenResponse("HTTP 200 with no choices in the body")
        choice = choices[0]
        message = getattr(choice, "message", None)
        if message is None or not isinstance(getattr(message, "content", None), (str, type(None))):
            raise _BrokenResponse("HTTP 200 with a choice that has no message")
        if choice.finish_reason is None:
            raise _BrokenResponse("the response ended without a finish_reason (cut short by the server)")
        served = getattr(response, "model", None)
        if isinstance(served, str) and served and not _same_model(served, self.model_name):
            raise _BrokenResponse(f"the endpoint answered as model {served!r}, not {self.model_name!r}")
        return choice

    def stream(self, request: GenerationRequest) -> Any:
        """The ``(seconds_since_start, text_delta)`` pairs of a streamed answer, with its token counts
        (``.tokens``); a stream without a finish_reason is an InfraError."""
        return _stream_sync(self, request)

    def close(self) -> None:
        pass


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def token_counts(usage: Any, request: GenerationRequest, text: str) -> dict[str, Any]:
    """``Generation`` token fields from a response's ``usage``, estimated where it has none.

    ``usage.prompt_tokens`` and ``usage.completion_tokens`` are the endpoint's own counts;
    ``usage.prompt_tokens_details.cached_tokens`` (OpenAI, vLLM with prefix caching) is the part
    of the prompt read from the endpoint's prompt cache. A count the endpoint does not give is
    estimated from the text (:func:`~pytest_llmops.providers.base.estimate_tokens`), and the
    answer is marked ``tokens_estimated``.
    """
    prompt = _count(getattr(usage, "prompt_tokens", None))
    completion = _count(getattr(usage, "completion_tokens", None))
    details = getattr(usage, "prompt_tokens_details", None)
    cached = _count(getattr(details, "cached_tokens", None))
    estimated = prompt is None or completion is None
    return {"input_tokens": estimate_prompt_tokens(request) if prompt is None else prompt,
            "output_tokens": estimate_tokens(text) if completion is None else completion,
            "cached_input_tokens": cached, "tokens_estimated": estimated}


class StreamedPieces(list):  # type: ignore[type-arg]
    """A stream's ``(seconds_since_start, text_delta)`` pairs, with the stream's token counts
    (``tokens``: :func:`token_counts` of its final usage chunk, or estimated without one)."""

    tokens: dict[str, Any]


class _BrokenResponse(Exception):
    """A response the server cut short; retried like a transient failure."""


def _same_model(served: str, asked: str) -> bool:
    """Whether the model an endpoint names is the one asked for: the same name, a dated or
    quantised variant of it (``gpt-4o`` -> ``gpt-4o-2024-08-06``), or the file a local server
    loaded for it (llama.cpp names ``.../smollm2.gguf`` when no alias is set)."""
    served_name = served.rsplit("/", 1)[-1].lower()
    asked_name = asked.rsplit("/", 1)[-1].lower()
    return served_name.startswith(asked_name) or asked_name.startswith(served_name.removesuffix(".gguf"))


def _retryable(exc: BaseException) -> bool:
    import openai  # openai: only when an endpoint is called

    if isinstance(exc, (_BrokenResponse, openai.APITimeoutError, openai.APIConnectionError,
                        openai.APIResponseValidationError)):
        return True
    if isinstance(exc, ValueError) and not isinstance(exc, openai.OpenAIError):
        return True  # a body that is not JSON (json.JSONDecodeError) from an HTTP 200
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


_BEARER = re.compile(r"(?i)(bearer\s+|api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")


def redact(text: str, secrets: Sequence[str | None] = ()) -> str:
    """``text`` with the given secrets, bearer tokens, ``api_key=...`` values and ``sk-...`` keys
    replaced by ``***``: an endpoint may echo the request's headers in its error body."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    return _KEY_LIKE.sub("sk-***", text)


def _describe(exc: BaseException | None, provider: "OpenAIProvider | None" = None) -> str:
    """An error message without request headers, and with any key redacted (it reaches reports)."""
    if exc is None:
        return "unknown error"
    status = getattr(exc, "status_code", None)
    prefix = f"HTTP {status}: " if status else ""
    secret = os.environ.get(provider.api_key_env) if provider is not None else None
    return redact(f"{prefix}{type(exc).__name__}: {str(exc)[:300]}", [secret])


def _stream_sync(provider: OpenAIProvider, request: GenerationRequest) -> StreamedPieces:
    from openai import OpenAI  # openai: only when an endpoint is called

    key = os.environ.get(provider.api_key_env) or "no-key"
    client = OpenAI(base_url=provider.base_url, api_key=key, timeout=provider.timeout, max_retries=0)
    params = request.params
    start = time.perf_counter()
    pieces = StreamedPieces()
    finish = None
    usage = None
    try:
        # include_usage asks for a last chunk with the stream's usage (OpenAI, vLLM, llama.cpp's
        # llama-server); a server that ignores it (llama-cpp-python's) leaves the counts estimated.
        stream = client.chat.completions.create(model=provider.model_name, messages=request.message_dicts(),
                                                max_tokens=params.max_new_tokens, temperature=params.temperature,
                                                seed=params.seed + request.sample_index, stream=True,
                                                stream_options={"include_usage": True})
        for chunk in stream:
            usage = getattr(chunk, "usage", None) or usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            delta = choice.delta.content or ""
            if delta:
                pieces.append((time.perf_counter() - start, delta))
            if choice.finish_reason is not None:
                finish = choice.finish_reason
    except Exception as exc:  # noqa: BLE001 - any transport failure is infra
        raise InfraError(f"{provider.alias}: stream failed: {_describe(exc, provider)}") from None
    finally:
        client.close()
    if finish is None:
        raise InfraError(f"{provider.alias}: the stream ended without a finish_reason (cut short by the server)")
    pieces.tokens = token_counts(usage, request, "".join(text for _, text in pieces))
    return pieces
