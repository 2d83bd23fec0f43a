"""The latency suite kind: TTFT, TPOT, ITL, end-to-end and throughput with percentile bounds.

``kind: latency`` YAML files name prompt sets (``fixtures/latency/``), a fixed output length
and budgets per environment; each prompt set is one case, timed outside the engine (never
cached, never batched with other suites). See ``docs/latency.md``.

Modules: ``workload`` (YAML), ``timing`` (one measured request, definitions, timer choice),
``timing_hf`` (streamer hook), ``timing_cuda`` (the CUDA-only bits), ``timing_openai``
(streaming, concurrency), ``runner`` (warm-up, levels, interleaving), ``summary``
(statistics, budgets, goodput, ratios), ``kind`` and ``aggregate`` (suite metrics).
"""

from __future__ import annotations

from pytest_llmops.suites.latency.kind import LatencyKind

KIND = LatencyKind()

__all__ = ["KIND", "LatencyKind"]
