"""transformers + torch provider: padded, length-sorted batches with out-of-memory back-off.

Greedy decoding with left padding gives the same tokens at batch 1 and at large batches
for fp32 on CPU, so batching is an optimisation, not a change of results. Sampled requests
batch too: each row draws from its own seeded generator (:mod:`.sampling`).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Sequence

from pytest_llmops.providers import device as device_mod
from pytest_llmops.providers.base import Generation, GenerationRequest, InfraError
from pytest_llmops.providers.model_store import (
    converted_gguf_folder,
    file_digest,
    smollm2_gguf_path,
    weights_digest,
)
from pytest_llmops.core.specs import ModelSpec
from pytest_llmops.providers.hf_options import HFOptionError, HFOptions
from pytest_llmops.providers.prefix_share import shared_prefill
from pytest_llmops.providers.sampling import SeededSampler, sample_seed
from pytest_llmops.providers.schema_decoding import SchemaLogitsProcessor, llguidance_tokenizer

__all__ = ["HFOptionError", "HFProvider"]



class HFProvider:
    """A local causal LM loaded with transformers."""

    def __init__(self, spec: ModelSpec, max_batch_size: int | None = None) -> None:
        self.spec = spec
        self.alias = spec.alias
        options = HFOptions.parse(spec)
        self.dtype_name = options.dtype
        self.device_name = options.device
        self.gguf_file = options.gguf
        self.use_chat_template = options.chat_template
        self.max_batch_size = options.batch_size or max_batch_size
        self.source = self._resolve_source()
        self._model: Any = None
        self._tokenizer: Any = None
        self._fingerprint: str | None = None
        self._llg_tokenizer: Any = None
        self.load_seconds = 0.0

    # -- loading -------------------------------------------------------------------------
    def _resolve_source(self) -> tuple[Path | str, str | None]:
        if self.spec.provider == "smollm2":
            return smollm2_gguf_path(), None
        target = Path(self.spec.target).expanduser()
        if target.is_file() and target.suffix == ".gguf":
            return target, None
        if target.exists():
            if self.gguf_file:
                return target / self.gguf_file, None
            return target, None
        # Not a local path: a hub id. It only loads if it is already in the local hub cache,
        # since tests and CI run with HF_HUB_OFFLINE=1.
        return self.spec.target, self.gguf_file

    def load(self) -> None:
        """Load tokenizer and weights (GGUF files are converted once and cached)."""
        if self._model is not None:
            return
        import torch  # torch: only once a local model or device is used
        from transformers import AutoModelForCausalLM, AutoTokenizer

        start = time.perf_counter()
        source, hub_gguf = self.source
        if isinstance(source, Path) and source.suffix == ".gguf":
            folder: str = str(converted_gguf_folder(source))
        else:
            folder = str(source)
        device = device_mod.pick_device(self.device_name)
        if device == "cpu":
            self.cpu_threads = device_mod.limit_cpu_threads()
        dtype = device_mod.pick_dtype(self.dtype_name, device)
        kwargs: dict[str, Any] = {"gguf_file": hub_gguf} if hub_gguf else {}
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        tokenizer.padding_side = "left"  # decoder-only models must be padded on the left
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **kwargs)
        model.to(device)
        model.eval()
        torch.set_grad_enabled(False)
        self._tokenizer, self._model, self.device = tokenizer, model, device
        self.torch_dtype = dtype
        self.load_seconds = time.perf_counter() - start

    @property
    def model(self) -> Any:
        self.load()
        return self._model

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tokenizer

    def fingerprint(self) -> str:
        """Weights digest + chat-template switch; computed without loading the model."""
        if self._fingerprint is None:
            source, hub_gguf = self.source
            if isinstance(source, Path) and source.is_file():
                weights = file_digest(source)
            elif isinstance(source, Path):
                weights = weights_digest(source)
            else:
                weights = f"hub:{source}:{hub_gguf}"
            parts = ["hf", weights, f"template={self.use_chat_template}", f"dtype={self.dtype_name}"]
            self._fingerprint = hashlib.sha256("|".join(parts).encode()).hexdigest()
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"provider": "hf", "source": str(self.source[0]),
                                "chat_template": self.use_chat_template}
        if self._model is not None:
            info.update(device_mod.describe_device(self.device, self.torch_dtype))
            info["load_seconds"] = round(self.load_seconds, 3)
        return info

    # -- generation ----------------------------------------------------------------------
    def render(self, request: GenerationRequest) -> str:
        """The exact text fed to the tokenizer for ``request``."""
        if request.raw_prompt is not None:
            return request.raw_prompt
        tok = self.tokenizer
        if self.use_chat_template and getattr(tok, "chat_template", None):
            return tok.apply_chat_template(request.message_dicts(), tokenize=False, add_generation_prompt=True)
        return "\n\n".join(content for _, content in request.messages)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        """Padded batches of requests with the same params, greedy and sampled alike.

        A sampled request draws from its own generator, seeded from (seed, sample index), so it
        gives the same answer alone or in any batch (see :mod:`.sampling`).
        """
        results: list[Generation | InfraError | None] = [None] * len(requests)
        texts = {i: self.render(requests[i]) for i in range(len(requests))}
        # Same params can share a batch; sort longest first so padding stays small.
        groups: dict[Any, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(request.params, []).append(i)
        for params, indices in groups.items():
            lengths = {i: len(self.tokenizer(texts[i])["input_ids"]) for i in indices}
            if params.greedy:
                indices.sort(key=lambda i: -lengths[i])
            else:
                # Samples of one case side by side, so they share a batch and its prefill.
                indices.sort(key=lambda i: (-lengths[i], texts[i], requests[i].sample_index))
            schemas = [requests[i].response_schema for i in indices]
            seeds = None if params.greedy else [sample_seed(params.seed, requests[i].sample_index) for i in indices]
            for i, gen in zip(indices, self._run_batched([texts[i] for i in indices], params, schemas, seeds)):
                results[i] = gen
        return [r for r in results if r is not None]

    def _run_batched(self, prompts: list[str], params: Any, schemas: list[str | None] | None = None,
                     seeds: list[int] | None = None) -> list[Generation]:
        """Batches of ``prompts``; ``schemas[i]`` (if given) constrains prompt ``i``'s answer, and
        ``seeds[i]`` (sampled params only) seeds its draws."""
        schemas = schemas or [None] * len(prompts)
        size = self.max_batch_size or device_mod.initial_batch_size(self.device, len(prompts),
                                                                   sampled=seeds is not None)
        out: list[Generation] = []
        start = 0
        while start < len(prompts):
            chunk = prompts[start:start + size]
            try:
                out.extend(self._generate(chunk, params, seeds=None if seeds is None else seeds[start:start + size],
                                          schemas=schemas[start:start + size]))
            except Exception as exc:  # noqa: BLE001 - only OOM is retried, the rest re-raised
                if not device_mod.is_out_of_memory(exc) or size == 1:
                    raise
                device_mod.free_memory(self.device)
                size = max(1, size // 2)
                continue
            start += len(chunk)
        return out

    def _generate(self, prompts: list[str], params: Any, seeds: list[int] | None = None,
                  schemas: list[str | None] | None = None) -> list[Generation]:
        tok, model = self.tokenizer, self.model
        enc = tok(prompts, return_tensors="pt", padding=True).to(self.device)
        # Always greedy for transformers: sampled rows are drawn by SeededSampler, which leaves
        # only the drawn token possible. Clear sampling defaults a generation_config may carry.
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": False,
            "pad_token_id": tok.pad_token_id,
            "temperature": None, "top_p": None, "top_k": None,
        }
        if params.stop:
            kwargs["stop_strings"] = list(params.stop)
            kwargs["tokenizer"] = tok
        processors: list[Any] = []
        if schemas and any(schema is not None for schema in schemas):
            processors.append(SchemaLogitsProcessor(self._schema_tokenizer(), schemas,
                                                    {tok.eos_token_id, tok.pad_token_id}))
        if seeds is not None:
            # Last: it samples among the tokens the schema masks left.
            processors.append(SeededSampler(seeds, params.temperature, params.top_p, device=self.device))
        if processors:
            from transformers import LogitsProcessorList  # transformers: only once a local model is used

            kwargs["logits_processor"] = LogitsProcessorList(processors)
        start = time.perf_counter()
        if seeds is not None:
            # Repeated samples of one case share their prompt: prefill it once for all of them.
            cache = shared_prefill(model, enc)
            if cache is not None:
                kwargs["past_key_values"] = cache
        output = model.generate(**enc, **kwargs)
        seconds = time.perf_counter() - start
        new_tokens = output[:, enc["input_ids"].shape[1]:]
        # The prompt's own tokens: the attention mask is 0 on the left padding a batch adds.
        prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
        eos = {tok.eos_token_id, tok.pad_token_id}
        gens: list[Generation] = []
        for row, input_tokens in zip(new_tokens.tolist(), prompt_tokens):
            # Trailing pad/eos are not output; count tokens up to and including the first eos.
            length = len(row)
            for pos, token in enumerate(row):
                if token in eos:
                    length = pos
                    break
            finish = "stop" if length < len(row) else "length"
            text = tok.decode(row[:length], skip_special_tokens=True)
            for stop in params.stop:
                if stop in text:
                    text, finish = text[:text.index(stop)], "stop"
            gens.append(Generation(text=text, output_tokens=length, finish_reason=finish,
                                   seconds=seconds / len(prompts), batch_size=len(prompts),
                                   input_tokens=int(input_tokens)))
        return gens

    def _schema_tokenizer(self) -> Any:
        """llguidance's tokenizer for schema-constrained requests, built on first use."""
        if self._llg_tokenizer is None:
            self._llg_tokenizer = llguidance_tokenizer(self.tokenizer)
        return self._llg_tokenizer

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
