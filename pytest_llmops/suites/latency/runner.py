"""Running one latency case: warm-up, then the measured requests at each concurrency level.

Latency requests never go through the engine: no response cache, no batching with other
cases or suites. With a baseline model in the same run, candidate and baseline requests
alternate (ABBA order) at concurrency 1, so drift of the machine (thermal, other load)
hits both alike and the two can be compared pair by pair.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pytest_llmops.providers.base import GenerationParams, GenerationRequest
from pytest_llmops.suites.latency.timing import TimedGeneration, Timer
from pytest_llmops.suites.latency.workload import WARMUP_PROMPT


def build_requests(prompts: list[str], count: int, system: str | None, params: GenerationParams) -> list[GenerationRequest]:
    """``count`` requests cycling through ``prompts``, so no request repeats the one before it
    (a server's prefix cache would otherwise skip the prompt of every second request)."""
    return [GenerationRequest.prompt(prompts[i % len(prompts)], system=system, params=params, sample_index=i)
            for i in range(count)]


def level_entry(concurrency: int, results: list[TimedGeneration], wall_s: float) -> dict[str, Any]:
    """A level's record entry: raw per-request samples plus throughput over its wall time."""
    tokens = sum(r.output_tokens for r in results)
    return {"concurrency": concurrency, "wall_s": round(wall_s, 6),
            "requests_per_s": round(len(results) / wall_s, 6) if wall_s > 0 else None,
            "output_tokens_per_s": round(tokens / wall_s, 6) if wall_s > 0 else None,
            "requests": [r.sample() for r in results]}


def interleaved(candidate: Timer, baseline: Timer, requests: list[GenerationRequest]) -> tuple[
        list[TimedGeneration], float, list[TimedGeneration]]:
    """Candidate and baseline one request at a time in ABBA order; ``(candidate, its wall, baseline)``."""
    ours: list[TimedGeneration] = []
    theirs: list[TimedGeneration] = []
    wall = 0.0
    for index, request in enumerate(requests):
        order = (True, False) if index % 4 in (0, 3) else (False, True)
        for is_candidate in order:
            timer = candidate if is_candidate else baseline
            (result,), seconds = timer.measure([request], 1)
            if is_candidate:
                ours.append(result)
                wall += seconds
            else:
                theirs.append(result)
    return ours, wall, theirs


def run_case(timer: Timer, data: dict[str, Any], system: str | None, params: GenerationParams,
             baseline: Timer | None = None) -> dict[str, Any]:
    """Measure one case (one prompt set) as its ``data`` (see ``workload.parse_workload``) says."""
    params = dataclasses.replace(params, max_new_tokens=data["output_tokens"])
    levels = list(data["concurrency"]) if timer.concurrent else [1]
    warm = build_requests([WARMUP_PROMPT], data["warmup"], system, params)
    for subject in (timer, baseline):
        if subject is not None and warm:
            subject.measure(warm, 1)  # discarded: first-call costs (allocations, connections, caches)
    out: dict[str, Any] = {"levels": {}}
    requests = build_requests(data["prompts"], data["requests"], system, params)
    for level in levels:
        if baseline is not None and level == levels[0]:
            ours, wall, theirs = interleaved(timer, baseline, requests)
            out["baseline_requests"] = [r.sample() for r in theirs]
        else:
            ours, wall = timer.measure(requests, level)
        out["levels"][str(level)] = level_entry(level, ours, wall)
        if "first" not in out and ours:
            out["first"] = ours[0]
    if not timer.concurrent and data["concurrency"] != [1]:
        out["note"] = "this subject is measured at concurrency 1 only (the sweep needs an openai endpoint)"
    return out
