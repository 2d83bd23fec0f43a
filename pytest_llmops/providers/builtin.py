"""The built-in providers (smollm2, hf, openai), registered through the same hook as a plugin's."""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.core.specs import SPEC_FORMS, ModelSpec


def _hf(spec: ModelSpec) -> Any:
    # torch and transformers load only when a local model is first needed.
    from pytest_llmops.providers.hf import HFProvider

    return HFProvider(spec)


def _openai(spec: ModelSpec) -> Any:
    # the openai client loads only when an endpoint is first needed.
    from pytest_llmops.providers.openai_provider import OpenAIProvider

    return OpenAIProvider(spec)


@hookimpl
def llmops_register_providers(register: Callable[..., None]) -> None:
    register("smollm2", _hf, form="smollm2")
    register("hf", _hf, form=SPEC_FORMS[1])
    register("openai", _openai, form=SPEC_FORMS[2])
