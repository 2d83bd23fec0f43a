"""Prefill each distinct prompt of a batch once, for the hf provider's repeated samples.

A case sampled k times sends k requests whose prompts are identical token for token. Feeding
all k through the model's prefill repeats the same arithmetic k times; on a CPU, where a batch
of 32 rows already keeps the cores busy, that work is what makes k samples cost about k times
one. :func:`shared_prefill` runs the prefill once per distinct (padded) prompt, for all tokens
but the last, and copies the resulting key/value cache to every row that shares the prompt;
``generate`` then feeds only the last prompt token and the new ones. The cache and the
positions are those a full prefill would build, so answers are the same as without sharing
(checked in ``tests/integration/test_repeats_smollm2.py``).
"""

from __future__ import annotations

from typing import Any


def shared_prefill(model: Any, enc: Any) -> Any | None:
    """A filled ``DynamicCache`` for ``enc``'s rows when some rows repeat a prompt, else ``None``.

    ``enc`` is the tokenizer's left-padded batch (``input_ids``, ``attention_mask``). The cache
    covers every position but the last, so ``generate(**enc, past_key_values=cache)`` has one
    prompt token left to feed, as its prefill-from-cache path requires.
    """
    import torch  # torch: only once a local model is used
    from transformers import DynamicCache

    ids, mask = enc["input_ids"], enc["attention_mask"]
    if ids.shape[0] < 2 or ids.shape[1] < 2:
        return None
    # Rows are the same prompt when their tokens and their padding are the same.
    distinct, row_of = torch.unique(torch.cat([ids, mask], dim=1), dim=0, return_inverse=True)
    if distinct.shape[0] == ids.shape[0]:
        return None
    width = ids.shape[1]
    distinct_ids, distinct_mask = distinct[:, :width], distinct[:, width:]
    # The positions generate derives from a left-padded mask: count real tokens, pads at 1.
    positions = (distinct_mask.long().cumsum(-1) - 1).masked_fill(distinct_mask == 0, 1)
    cache = DynamicCache()
    model(input_ids=distinct_ids[:, :-1], attention_mask=distinct_mask[:, :-1], position_ids=positions[:, :-1],
          past_key_values=cache, use_cache=True, logits_to_keep=1)
    cache.batch_select_indices(row_of.to(ids.device))
    return cache
