"""The built-in providers (smollm2, hf, openai), registered through the same hook as a plugin's."""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.core.specs import SPEC_FORMS, ModelSpec
from pytest_llmops.providers.hf_options import check_hf_spec


def _hf(spec: ModelSpec) -> Any:
    # torch and transformers load only when a local model is first needed.
    from pytest_llmops.providers.hf import HFProvider

    return HFProvider(spec)


def _openai(spec: ModelSpec) -> Any:
    # the openai client loads only when an endpoint is first needed.
    from pytest_llmops.providers.openai_provider import OpenAIProvider

    return OpenAIProvider(spec)


def _check_openai(spec: ModelSpec) -> None:
    from pytest_llmops.providers.openai_provider import check_openai_spec  # standard library only at import

    check_openai_spec(spec)


@hookimpl
def llmops_register_providers(register: Callable[..., None]) -> None:
    # Options (and an hf: local path) are checked when the run starts: one usage error, not one per case.
    register("smollm2", _hf, form="smollm2", validate=check_hf_spec)
    register("hf", _hf, form=SPEC_FORMS[1], validate=check_hf_spec)
    register("openai", _openai, form=SPEC_FORMS[2], validate=_check_openai)
