"""Model relations: properties of the serving stack itself, checked against the provider directly.

- ``prefix-consistency``: the greedy output with ``k`` new tokens is a prefix of the greedy
  output with ``2k`` (and equal to it when the shorter one stopped on its own);
- ``batch-invariance``: a prompt generated alone and inside a padded batch with prompts of
  other lengths gives the same greedy output;
- ``stream-consistency``: streaming and non-streaming give the same text.

These generations go to ``provider.generate_batch`` (and ``provider.stream``) directly, not
through the engine and its response cache: what is being tested is how the provider
batches, pads, decodes and streams, which a cached answer would hide. They are regenerated
on every run. Greedy decoding only: with sampling the relations do not have to hold, and
the case is undecided.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.suites.metamorphic.relations import MODEL, Relation, Verdict, quoted_excerpt
import threading


class ModelRelation(Relation):
    """Base class: ``run(provider, request, options)`` instead of ``check``."""

    family = MODEL
    direct = True

    def check(self, pair: Any, options: dict[str, Any]) -> Verdict:  # pragma: no cover - not an output relation
        raise TypeError(f"{self.name} is a model relation: it runs against the provider (run), not on outputs")

    def run(self, provider: Any, request: GenerationRequest, options: dict[str, Any]) -> Verdict:
        raise NotImplementedError


def _one(provider: Any, requests: Sequence[GenerationRequest]) -> list[Generation]:
    results = provider.generate_batch(list(requests))
    if len(results) != len(requests):
        raise InfraError(f"provider returned {len(results)} results for {len(requests)} requests")
    for result in results:
        if isinstance(result, InfraError):
            raise result
    return list(results)


def _with_params(request: GenerationRequest, **changes: Any) -> GenerationRequest:
    return dataclasses.replace(request, params=dataclasses.replace(request.params, **changes))


def _greedy_only(request: GenerationRequest) -> Verdict | None:
    if not request.params.greedy:
        return Verdict(None, f"sampled decoding (temperature {request.params.temperature}): the relation "
                             "only has to hold for greedy decoding")
    return None


class PrefixConsistency(ModelRelation):
    name = "prefix-consistency"
    description = "greedy output with k new tokens is a prefix of the output with 2k"
    options = ("k",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        k = options.get("k")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ValueError(f"option 'k' must be a positive integer, got {k!r}")
        return options

    def run(self, provider: Any, request: GenerationRequest, options: dict[str, Any]) -> Verdict:
        skip = _greedy_only(request)
        if skip:
            return skip
        k = options.get("k") or max(1, request.params.max_new_tokens // 2)
        short = _one(provider, [_with_params(request, max_new_tokens=k)])[0]
        long = _one(provider, [_with_params(request, max_new_tokens=2 * k)])[0]
        # A multi-byte character cut at the k-th token decodes to U+FFFD; trailing spaces may
        # be trimmed by the decoder.
        head = short.text.rstrip("\ufffd").rstrip()
        details = {"k": k, "output_k": short.text, "output_2k": long.text,
                   "finish_k": short.finish_reason, "finish_2k": long.finish_reason}
        if short.finish_reason == "stop" and short.text.strip() != long.text.strip():
            return Verdict(False, f"k={k} stopped on its own with {quoted_excerpt(short.text)} but "
                                  f"2k={2 * k} gave {quoted_excerpt(long.text)}", details)
        if long.text.startswith(head):
            return Verdict(True, f"k={k} output is a prefix of the 2k={2 * k} output", details)
        return Verdict(False, f"k={k} output {quoted_excerpt(short.text)} is not a prefix of "
                              f"2k={2 * k} output {quoted_excerpt(long.text)}", details)


def default_fillers(request: GenerationRequest) -> list[str]:
    """A longer and a shorter prompt, so the prompt under test is padded inside the batch."""
    user = next((content for role, content in reversed(request.messages) if role == "user"), "")
    longer = ("Read this carefully before you answer, and take your time. " * 3) + user + \
        " Also, explain your reasoning step by step in plain words."
    return [longer, "Hi."]


class BatchInvariance(ModelRelation):
    name = "batch-invariance"
    description = "a prompt alone and inside a padded batch of other lengths give the same greedy output"
    options = ("fillers",)

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        fillers = options.get("fillers")
        if fillers is not None and (not isinstance(fillers, list) or not fillers
                                    or not all(isinstance(f, str) for f in fillers)):
            raise ValueError("option 'fillers' must be a non-empty list of prompts")
        return options

    def run(self, provider: Any, request: GenerationRequest, options: dict[str, Any]) -> Verdict:
        skip = _greedy_only(request)
        if skip:
            return skip
        system = next((content for role, content in request.messages if role == "system"), None)
        fillers = [GenerationRequest.prompt(text, system=system, params=request.params)
                   for text in options.get("fillers") or default_fillers(request)]
        alone = _one(provider, [request])[0]
        batch = [fillers[0], request, *fillers[1:]]
        batched = _one(provider, batch)[1]
        details = {"alone": alone.text, "batched": batched.text, "batch_size": batched.batch_size,
                   "fillers": [f.messages[-1][1] for f in fillers]}
        if batched.batch_size < 2:
            return Verdict(None, "the provider did not batch the prompts together (batch size 1)", details)
        if alone.text == batched.text:
            return Verdict(True, f"same output alone and in a batch of {batched.batch_size}", details)
        return Verdict(False, f"alone {quoted_excerpt(alone.text)} vs in a batch of {batched.batch_size} "
                              f"{quoted_excerpt(batched.text)}", details)


def hf_stream(provider: Any, request: GenerationRequest) -> str:
    """Stream a greedy generation from an hf provider with transformers' TextIteratorStreamer.

    Same decoding settings as :meth:`HFProvider._generate` for one prompt; the text is the
    concatenation of the streamed pieces (cut at the first stop string, like the provider).
    """
    from transformers import TextIteratorStreamer  # transformers: only when the streaming relation runs on an hf model

    tok, model = provider.tokenizer, provider.model
    enc = tok([provider.render(request)], return_tensors="pt", padding=True).to(provider.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    kwargs: dict[str, Any] = {"max_new_tokens": request.params.max_new_tokens, "do_sample": False,
                              "pad_token_id": tok.pad_token_id, "temperature": None, "top_p": None, "top_k": None,
                              "streamer": streamer}
    if request.params.stop:
        kwargs.update(stop_strings=list(request.params.stop), tokenizer=tok)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            model.generate(**enc, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)
            streamer.end()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    pieces = list(streamer)
    thread.join()
    if failure:
        raise failure[0]
    text = "".join(pieces)
    for stop in request.params.stop:
        if stop in text:
            text = text[:text.index(stop)]
    return text


def stream_text(provider: Any, request: GenerationRequest) -> tuple[str | None, str]:
    """``(text, how)``: the streamed text and how it was streamed; ``(None, why)`` when the
    provider cannot stream."""
    if callable(getattr(provider, "stream", None)):
        pieces = provider.stream(request)
        return "".join(p[1] if isinstance(p, tuple) else str(p) for p in pieces), "provider.stream"
    if all(hasattr(provider, attr) for attr in ("tokenizer", "model", "render")):
        return hf_stream(provider, request), "transformers TextIteratorStreamer"
    return None, f"provider {type(provider).__name__} has no stream() and is not a transformers model"


class StreamConsistency(ModelRelation):
    name = "stream-consistency"
    description = "streaming and non-streaming generation give the same text"
    options = ("strip",)

    def run(self, provider: Any, request: GenerationRequest, options: dict[str, Any]) -> Verdict:
        skip = _greedy_only(request)
        if skip:
            return skip
        streamed, how = stream_text(provider, request)
        if streamed is None:
            return Verdict(None, f"cannot stream: {how}", {"stream": how})
        whole = _one(provider, [request])[0].text
        details = {"streamed": streamed, "non_streamed": whole, "stream": how}
        a, b = (streamed.strip(), whole.strip()) if options.get("strip", True) else (streamed, whole)
        if a == b:
            return Verdict(True, f"same text streamed ({how}) and not", details)
        return Verdict(False, f"streamed {quoted_excerpt(streamed)} vs non-streamed {quoted_excerpt(whole)}",
                       details)


BUILTIN_MODEL_RELATIONS: tuple[ModelRelation, ...] = (PrefixConsistency(), BatchInvariance(), StreamConsistency())
