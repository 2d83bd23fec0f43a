"""Registers the ``fault:`` provider: ``--llm-model='fault:OPERATOR?rate=0.3&seed=1&inner=smollm2'``.

Built in (listed in :data:`pytest_llmops.suites.builtins.BUILTIN_PLUGINS`), so no ``-p`` is
needed; ``-p pytest_llmops.faults.plugin`` is accepted too and registers nothing twice.
"""

from __future__ import annotations

from typing import Any, Callable

from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.core.specs import SPEC_FORMS, ModelSpec, SpecError


def make_faulty_provider(spec: ModelSpec, create: Callable[[ModelSpec], Any]) -> Any:
    """A :class:`FaultyProvider` around the provider ``create`` makes for the spec's ``inner``."""
    # Imported when a fault spec is used, not on every pytest start-up.
    from pytest_llmops.faults.provider import FaultyProvider
    from pytest_llmops.faults.spec import parse_fault_options

    options = parse_fault_options(spec)  # every option checked before the inner model is made
    return FaultyProvider(create(options.inner), options.operator, options.rate, options.seed, alias=spec.alias)


def check_fault_spec(spec: ModelSpec, validate: Callable[[ModelSpec], None]) -> None:
    """Raise ``ValueError`` naming the bad option of a ``fault:`` spec, its inner spec's included."""
    from pytest_llmops.faults.spec import FaultSpecError, parse_fault_options

    options = parse_fault_options(spec)
    try:
        validate(options.inner)
    except SpecError as exc:
        raise FaultSpecError(f"inner={options.inner.raw!r}: {exc}") from None


@hookimpl
def llmops_register_providers(register: Callable[..., None]) -> None:
    register("fault", make_faulty_provider, form=SPEC_FORMS[3], validate=check_fault_spec, wrapper=True)
