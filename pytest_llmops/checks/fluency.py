"""Fluency: how likely a fixed scoring model finds an answer, given the question.

The score is the geometric mean of the per-token probabilities of the answer, end-of-turn
token included, under the embedded SmolLM2-135M-Instruct, conditioned on the same chat
messages the subject saw: ``exp(mean log p(answer tokens | messages))``, in (0, 1].

Why this shape:
- it is reference-free, offline and deterministic (fp32 on CPU, cached), so it can score any
  answer of any subject, including one served by an endpoint;
- conditioning on the question makes an off-topic or wrong-language answer unlikely, not only
  a garbled one; scoring the end-of-turn token makes a cut-off answer unlikely too;
- the model is fixed (it does not follow ``--llm-model``), so a candidate and its baseline
  are scored by the same judge and their fluencies can be compared case by case.

A small model is a rough judge of quality: a fluent wrong answer scores well. Fluency is one
signal among several (see ``docs/regression.md``, "Reference-free signals").
"""

from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path
from typing import Any, Sequence

from pytest_llmops import __version__
from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.providers.base import Generation, Message

SCORING_MODEL = "smollm2"
BATCH_SIZE = 16
_ROUND = 6
#: Scores computed in this process, by content key: several runs in one process (pytester,
#: benchmarks) and several scorers (one per cache folder) share them.
_MEMORY: dict[str, float] = {}


class FluencyScorer:
    """Scores (messages, answer) pairs in padded batches, through a content-addressed cache."""

    def __init__(self, provider: Any, cache: ResponseCache | None = None) -> None:
        self.provider = provider  # an HFProvider; loaded on the first miss
        self.cache = cache

    def _key(self, messages: Sequence[Message], answer: str) -> str:
        # Same content address scheme as generations: scorer weights, plugin version, content.
        parts = ["fluency", self.provider.fingerprint(), __version__,
                 *(f"{m['role']}\x1e{m['content']}" for m in messages), answer]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def score_many(self, items: Sequence[tuple[Sequence[Message], str]]) -> list[float]:
        """The fluency of each answer after its messages, in input order."""
        keys = [self._key(messages, answer) for messages, answer in items]
        found = {key: _MEMORY[key] for key in keys if key in _MEMORY}
        if self.cache is not None and len(found) < len(keys):
            stored = self.cache.get_many(key for key in keys if key not in found)
            found.update({key: float(gen.text) for key, gen in stored.items()})
        missing = list(dict.fromkeys(i for i, key in enumerate(keys) if key not in found))
        if missing:
            todo = {keys[i]: items[i] for i in missing}  # duplicates are scored once
            scores = self._score_uncached(list(todo.values()))
            fresh = dict(zip(todo, scores))
            found.update(fresh)
            _MEMORY.update(fresh)
            if self.cache is not None:
                self.cache.put_many({key: Generation(text=repr(value), finish_reason="score")
                                     for key, value in fresh.items()})
        return [found[key] for key in keys]

    def _score_uncached(self, items: list[tuple[Sequence[Message], str]]) -> list[float]:
        """Score answers grouped by their prompt: the prompt runs once, its cache serves every answer."""
        tok = self.provider.tokenizer
        end = tok.eos_token or ""
        groups: dict[str, list[int]] = {}
        for index, (messages, _answer) in enumerate(items):
            prompt = tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
            groups.setdefault(prompt, []).append(index)
        out: list[float] = [0.0] * len(items)
        singles: list[tuple[int, list[int], list[int]]] = []
        for prompt, indices in groups.items():
            prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
            # Tokenised apart from the prompt so the answer's tokens are exactly the scored ones.
            answers = [tok(items[i][1] + end, add_special_tokens=False)["input_ids"] for i in indices]
            if len(answers) == 1:
                singles.append((indices[0], prompt_ids, answers[0]))  # batched with other prompts below
                continue
            for index, value in zip(indices, self._score_group(prompt_ids, answers)):
                out[index] = round(math.exp(value), _ROUND)
        for index, value in zip([i for i, _, _ in singles], self._score_whole([(p, a) for _, p, a in singles])):
            out[index] = round(math.exp(value), _ROUND)
        return out

    def _score_whole(self, pairs: list[tuple[list[int], list[int]]]) -> list[float]:
        """Mean log-probability of each answer after its own prompt, in padded batches."""
        import torch  # only once something is scored

        model, device = self.provider.model, self.provider.device
        pad = self.provider.tokenizer.pad_token_id or 0
        means = [0.0] * len(pairs)
        order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]) - len(pairs[i][1]))  # little padding
        for start in range(0, len(order), BATCH_SIZE):
            chunk = order[start:start + BATCH_SIZE]
            width = max(len(pairs[i][0]) + len(pairs[i][1]) for i in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                tokens = pairs[i][0] + pairs[i][1]
                ids[row, :len(tokens)] = torch.tensor(tokens)  # right padding: positions stay 0..n-1
                mask[row, :len(tokens)] = 1
            with torch.no_grad():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1).cpu()
            for row, i in enumerate(chunk):
                prompt, answer = pairs[i]
                total = len(prompt) + len(answer)
                tokens = prompt + answer
                # Token t is predicted by the logits at position t - 1.
                values = [float(logprobs[row, t - 1, tokens[t]]) for t in range(len(prompt), total)]
                means[i] = sum(values) / len(values)
        return means

    def _score_group(self, prompt_ids: list[int], answers: list[list[int]]) -> list[float]:
        """Mean log-probability of each answer's tokens after one shared prompt."""
        import copy

        import torch  # only once something is scored

        model, device = self.provider.model, self.provider.device
        with torch.no_grad():
            head = model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
        first = torch.log_softmax(head.logits[0, -1].float(), dim=-1).cpu()  # predicts answer token 0
        means: list[float] = []
        pad = self.provider.tokenizer.pad_token_id or 0
        for start in range(0, len(answers), BATCH_SIZE):
            chunk = answers[start:start + BATCH_SIZE]
            width = max(len(a) for a in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), len(prompt_ids) + width), dtype=torch.long)
            mask[:, :len(prompt_ids)] = 1
            for row, tokens in enumerate(chunk):
                ids[row, :len(tokens)] = torch.tensor(tokens)  # right padding: positions follow the prompt
                mask[row, len(prompt_ids):len(prompt_ids) + len(tokens)] = 1
            past = copy.deepcopy(_kv_cache(head))  # a forward pass appends to the cache it is given
            past.batch_repeat_interleave(len(chunk))
            with torch.no_grad():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                               **{_cache_argument(model): past}, use_cache=True).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1).cpu()
            for row, tokens in enumerate(chunk):
                # Token 0 comes from the prompt's last position; token t from the answer's t - 1.
                values = [float(first[tokens[0]])] + [float(logprobs[row, t - 1, tokens[t]])
                                                      for t in range(1, len(tokens))]
                means.append(sum(values) / len(values))
        return means


def _kv_cache(output: Any) -> Any:
    """The key/value cache of a forward pass: ``cache`` from transformers 5.2x, ``past_key_values`` before."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def _cache_argument(model: Any) -> str:
    """The name under which ``model``'s forward takes a key/value cache (it changed in transformers 5.2x)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@functools.lru_cache(maxsize=1)
def _scoring_provider() -> Any:
    """The scoring model, loaded once per process whatever the cache folder."""
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.providers.hf import HFProvider  # torch and transformers, on first use

    return HFProvider(parse_spec(SCORING_MODEL))


@functools.lru_cache(maxsize=8)
def shared_fluency_scorer(cache_dir: Path | None = None, cache_mode: str = "rw") -> FluencyScorer:
    """One scorer per cache folder and mode, all sharing the one scoring model."""
    cache = ResponseCache(cache_dir / "fluency.sqlite", cache_mode) if cache_dir is not None else None
    return FluencyScorer(_scoring_provider(), cache)
