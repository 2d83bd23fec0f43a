"""Choosing the timer for a provider: its own ``stream_timed`` hook, else the built-in hf or openai one.

Apart from ``timing.py`` (the definitions every timer shares) so that the timers may import
those definitions without ``timing.py`` importing the timers back.
"""

from __future__ import annotations

from typing import Any

from pytest_llmops.suites.latency.timing import ProviderHookTimer, Timer


def timer_for(provider: Any, max_new_tokens: int, fixed_output: bool) -> Timer:
    """The timer for ``provider``: its own ``stream_timed`` hook, else the built-in hf or openai one."""
    if hasattr(provider, "stream_timed"):
        return ProviderHookTimer(provider, max_new_tokens, fixed_output)
    # The built-in providers and their timers: imported only for the provider being timed.
    from pytest_llmops.providers.hf import HFProvider
    from pytest_llmops.providers.openai_provider import OpenAIProvider

    if isinstance(provider, HFProvider):
        from pytest_llmops.suites.latency.timing_hf import HFTimer  # torch: only when an hf model is timed

        return HFTimer(provider, max_new_tokens, fixed_output)
    if isinstance(provider, OpenAIProvider):
        from pytest_llmops.suites.latency.timing_openai import OpenAITimer  # openai: only for an endpoint

        return OpenAITimer(provider, max_new_tokens, fixed_output)
    raise TypeError(f"{type(provider).__name__} cannot be timed: latency suites need an hf or openai subject, "
                    "or a provider with stream_timed(request, max_new_tokens, fixed_output)")
