"""JSON-schema-constrained decoding: the schema a provider is given, and its token masks for hf.

A judge asked for JSON of a given shape (DeepEval's steps) answers with a
:class:`~pytest_llmops.providers.base.GenerationRequest` carrying ``response_schema``.
OpenAI-compatible servers constrain decoding themselves (``response_format``); for local
``hf:`` models :class:`SchemaLogitsProcessor` masks, at every step, the tokens that would
leave the schema. The masks come from llguidance (the Rust library behind guidance, used by
llama.cpp and vLLM): a well-kept grammar engine, chosen over outlines (heavy dependencies)
and xgrammar (pulls triton) because its wheel has no dependencies at all.

:func:`bounded_schema` caps strings and lists the schema leaves open. Without a cap a small
model under constraint can write one string, or list item after list item, until the token
budget runs out: valid JSON that is never closed, which is a format error all the same.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Sequence

# With these caps a whole answer (5 items of at most 120 characters) stays under ~700
# characters, which SmolLM2's tokenizer writes in well under the judge's 512-token budget;
# they also bound the decoding time of a batch, which runs as long as its longest row.
MAX_STRING_CHARS = 120
MAX_LIST_ITEMS = 5

# The JSON compiler's options: compact JSON (no runs of whitespace for a model to loop in).
_COMPILE_OPTIONS = {"whitespace_flexible": False}


def bounded_schema(schema: dict[str, Any], max_string: int = MAX_STRING_CHARS,
                   max_items: int = MAX_LIST_ITEMS) -> dict[str, Any]:
    """A copy of ``schema`` that a model can always finish: strings and arrays get an upper
    bound where they had none (and arrays a lower bound of one item), objects are closed (no extra properties) and list every
    property as required (a nullable one stays nullable)."""
    bounded = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            types = node.get("type")
            types = types if isinstance(types, list) else [types]
            if "string" in types and "enum" not in node and "const" not in node:
                node.setdefault("maxLength", max_string)
            if "array" in types:
                node.setdefault("maxItems", max_items)
                # DeepEval's lists (statements, claims, truths, verdicts, steps) are never empty
                # for a non-empty text; a constrained small model otherwise takes "[]" as the
                # shortest way out of every prompt.
                node.setdefault("minItems", 1)
            if "object" in types and isinstance(node.get("properties"), dict):
                # Closed objects with every property present, as OpenAI's strict mode wants:
                # JSON Schema's default lets a model add properties without end.
                node.setdefault("additionalProperties", False)
                node["required"] = list(node["properties"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(bounded)
    return bounded


class SchemaLogitsProcessor:
    """A transformers logits processor: row ``i`` of a batch follows ``schemas[i]`` (``None``: free).

    Built for one ``generate`` call. Each step it feeds every constrained row's last token to
    that row's matcher and masks the tokens the matcher does not allow; once the JSON is
    complete only the end-of-sequence token is allowed, so the row stops there.
    """

    def __init__(self, tokenizer: Any, schemas: Sequence[str | None], eos_token_ids: set[int]) -> None:
        import llguidance  # llguidance: only when a request carries a schema

        self._eos = eos_token_ids
        self._matchers: list[Any | None] = []
        for text in schemas:
            if text is None:
                self._matchers.append(None)
                continue
            matcher = llguidance.LLMatcher(tokenizer, _grammar(text))
            if matcher.is_error():
                raise ValueError(f"the response schema cannot be compiled: {matcher.get_error()}")
            self._matchers.append(matcher)
        self._done = [m is None for m in self._matchers]
        self._prompt_length: int | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch  # torch: only once a local model is used

        if self._prompt_length is None:
            self._prompt_length = input_ids.shape[1]
        first_step = input_ids.shape[1] == self._prompt_length
        for row, matcher in enumerate(self._matchers):
            if matcher is None or self._done[row]:
                continue
            if not first_step:
                token = int(input_ids[row, -1])
                if token in self._eos or not matcher.consume_token(token):
                    # Finished (the mask allowed end-of-sequence) or, never expected, off the
                    # grammar: the row's output is settled, leave its logits alone.
                    self._done[row] = True
                    continue
            allowed = torch.frombuffer(bytearray(matcher.compute_logit_bias()), dtype=torch.uint8)
            width = min(allowed.numel(), scores.shape[1])
            mask = torch.ones(scores.shape[1], dtype=torch.bool, device=scores.device)
            mask[:width] = allowed[:width].to(scores.device) == 0
            scores[row] = scores[row].masked_fill(mask, float("-inf"))
        return scores


@functools.lru_cache(maxsize=64)
def _grammar(schema: str) -> str:
    """llguidance's grammar for a schema: a judge asks with the same few schemas all run long."""
    import llguidance  # llguidance: only when a request carries a schema

    return llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=_COMPILE_OPTIONS)


def llguidance_tokenizer(hf_tokenizer: Any) -> Any:
    """llguidance's view of a fast Hugging Face tokenizer (about a second: build it once)."""
    import llguidance.hf  # llguidance: only when a request carries a schema

    return llguidance.hf.from_tokenizer(hf_tokenizer)
