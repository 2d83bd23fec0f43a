"""Built lazily: the llmops plugin manager and the provider and check registries it fills."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pluggy

from pytest_llmops.core import hookspecs
from pytest_llmops.core.specs import SPEC_FORMS, ModelSpec, SpecError

ProviderFactory = Callable[[ModelSpec], Any]
EXTENSION_GROUPS = ("attacks", "strategies", "detectors", "perturbations", "relations")


@dataclass
class Registry:
    """Providers and checks known to this run, built-ins included."""

    providers: dict[str, ProviderFactory] = field(default_factory=dict)
    forms: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    kinds: dict[str, Any] = field(default_factory=dict)
    #: named extensions of the suite kinds: "attacks", "strategies", "detectors",
    #: "perturbations", "relations" -> {name: object}
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)

    # pluggy calls the most recently registered plugins first and the built-ins (registered
    # first) last, so the first registration of a name wins: a plugin can replace a built-in.
    def register_provider(self, name: str, factory: ProviderFactory, form: str | None = None) -> None:
        if name not in self.providers:
            self.providers[name] = factory
            self.forms.append(form or f"{name}:TARGET")

    def register_check(self, check: Any) -> None:
        self.checks.setdefault(check.name, check)

    def register_suite_kind(self, kind: Any) -> None:
        self.kinds.setdefault(kind.name, kind)

    def aggregator(self, kind: str) -> Any:
        """A fresh metrics aggregator for suites of ``kind`` (the base one for unknown kinds)."""
        from pytest_llmops.suites.kinds import Aggregator

        handler = self.kinds.get(kind)
        return handler.aggregator() if handler is not None else Aggregator()

    def accepted_forms(self) -> str:
        return "\n  ".join(dict.fromkeys([*SPEC_FORMS, *self.forms]))

    def validate_spec(self, spec: ModelSpec) -> None:
        """Raise :class:`SpecError` when no provider serves ``spec``."""
        if spec.provider not in self.providers:
            raise SpecError(f"invalid model spec {spec.raw!r}: unknown provider {spec.provider!r}. "
                            f"Accepted forms:\n  {self.accepted_forms()}")

    def create_provider(self, spec: ModelSpec) -> Any:
        self.validate_spec(spec)
        return self.providers[spec.provider](spec)


class _Builtins:
    """The built-in providers and checks, registered through the same hooks as plugins."""

    @hookspecs.hookimpl
    def llmops_register_providers(self, register: Callable[..., None]) -> None:
        def hf(spec: ModelSpec) -> Any:
            from pytest_llmops.providers.hf import HFProvider

            return HFProvider(spec)

        def openai(spec: ModelSpec) -> Any:
            from pytest_llmops.providers.openai_provider import OpenAIProvider

            return OpenAIProvider(spec)

        register("smollm2", hf, form="smollm2")
        register("hf", hf, form=SPEC_FORMS[1])
        register("openai", openai, form=SPEC_FORMS[2])

    @hookspecs.hookimpl
    def llmops_register_suite_kinds(self, register: Callable[..., None]) -> None:
        from pytest_llmops.suites.kinds import FUNCTIONAL

        from pytest_llmops.suites import adversarial, garak, latency, metamorphic, regression

        register(FUNCTIONAL)
        register(adversarial.KIND)
        register(metamorphic.KIND)
        register(regression.KIND)
        register(garak.KIND)
        register(latency.KIND)

    @hookspecs.hookimpl
    def llmops_register_checks(self, register: Callable[..., None]) -> None:
        from pytest_llmops.checks.builtin import BUILTIN_CHECKS

        for check in BUILTIN_CHECKS:
            register(check)


def make_plugin_manager(extra_plugins: Iterable[Any] = ()) -> pluggy.PluginManager:
    """A plugin manager with our hookspecs, the built-ins, ``llmops`` entry points and
    any given plugin objects (pytest plugins and conftests) that implement our hooks."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # Built-ins go through the same hooks as plugins: providers, checks and kinds, then the
    # adversarial suite's attacks, strategies and detectors and the metamorphic suite's
    # perturbations and relations. Registered first, so a plugin using the same name wins.
    from pytest_llmops.suites.adversarial import plugin as adversarial_builtins
    from pytest_llmops.suites.metamorphic import builtins as metamorphic_builtins

    pm.register(_Builtins(), name="llmops-builtins")
    pm.register(adversarial_builtins, name="llmops-adversarial")
    pm.register(metamorphic_builtins, name="llmops-metamorphic")
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra_plugins:
        if pm.is_registered(plugin):
            continue
        if any(name.startswith("llmops_") for name in dir(plugin)):
            pm.register(plugin)
    return pm


def build_registry(pm: pluggy.PluginManager) -> Registry:
    registry = Registry()
    pm.hook.llmops_register_providers(register=registry.register_provider)
    pm.hook.llmops_register_checks(register=registry.register_check)
    pm.hook.llmops_register_suite_kinds(register=registry.register_suite_kind)
    for group in EXTENSION_GROUPS:
        table = registry.extensions.setdefault(group, {})
        getattr(pm.hook, f"llmops_register_{group}")(register=lambda obj, _table=table: _table.setdefault(obj.name, obj))
    return registry


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry outside pytest (CLI, scripts): built-ins and entry points only."""
    return build_registry(make_plugin_manager())
