"""Built lazily: the llmops plugin manager and the provider and check registries it fills."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pluggy

from pytest_llmops.core import hookspecs
from pytest_llmops.core.specs import SPEC_FORMS, ModelSpec, SpecError

ProviderFactory = Callable[[ModelSpec], Any]


@dataclass
class Registry:
    """Providers and checks known to this run, built-ins included."""

    providers: dict[str, ProviderFactory] = field(default_factory=dict)
    #: providers that wrap another model: their factories are called as ``factory(spec, create)``
    wrappers: set[str] = field(default_factory=set)
    validators: dict[str, Callable[[ModelSpec], None]] = field(default_factory=dict)
    forms: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    kinds: dict[str, Any] = field(default_factory=dict)
    #: the suite kinds' own tables (from their ``llmops_register_<group>`` hookspecs):
    #: group -> {name: object}
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)

    # pluggy calls the most recently registered plugins first and the built-ins (registered
    # first) last, so the first registration of a name wins: a plugin replaces a built-in.
    def register_provider(self, name: str, factory: Callable[..., Any], form: str | None = None,
                          wrapper: bool = False, validate: Callable[..., None] | None = None) -> None:
        """Add ``factory(spec) -> Provider``, and ``validate(spec)`` to check a spec's options early.

        ``validate`` raises ``ValueError`` on bad options; it runs when the run starts, so a
        mistake is a usage error before any model loads. A ``wrapper`` provider wraps other
        models: its factory is called as ``factory(spec, create)`` and its validator as
        ``validate(spec, validate_spec)``, with this registry's own methods, so it can wrap a
        provider registered by a conftest or plugin, not only a built-in.
        """
        if name not in self.providers:
            self.providers[name] = factory
            if wrapper:
                self.wrappers.add(name)
            if validate is not None:
                self.validators[name] = functools.partial(validate, validate=self.validate_spec) if wrapper \
                    else validate
            self.forms.append(form or f"{name}:TARGET")

    def register_check(self, check: Any) -> None:
        self.checks.setdefault(check.name, check)

    def register_suite_kind(self, kind: Any) -> None:
        self.kinds.setdefault(kind.name, kind)

    def accepted_forms(self) -> str:
        return "\n  ".join(dict.fromkeys([*SPEC_FORMS, *self.forms]))

    def validate_spec(self, spec: ModelSpec) -> None:
        """Raise :class:`SpecError` when no provider serves ``spec`` or its provider rejects its options."""
        if spec.provider not in self.providers:
            raise SpecError(f"invalid model spec {spec.raw!r}: unknown provider {spec.provider!r}. "
                            f"Accepted forms:\n  {self.accepted_forms()}")
        validate = self.validators.get(spec.provider)
        if validate is None:
            return
        try:
            validate(spec)
        except SpecError:
            raise
        except ValueError as exc:
            raise SpecError(f"invalid model spec {spec.raw!r}: {exc}\nAccepted forms:\n  {self.accepted_forms()}") \
                from None

    def create_provider(self, spec: ModelSpec, wrap_inner: Callable[[Any], Any] | None = None) -> Any:
        """The provider for ``spec``; a wrapper's inner models go through ``wrap_inner`` when given.

        The session passes a ``wrap_inner`` that serves the inner model's answers through the
        run's response cache (:class:`~pytest_llmops.core.cached_provider.CachedProvider`).
        """
        self.validate_spec(spec)
        factory = self.providers[spec.provider]
        if spec.provider not in self.wrappers:
            return factory(spec)

        def create_inner(inner: ModelSpec) -> Any:
            provider = self.create_provider(inner, wrap_inner)
            return wrap_inner(provider) if wrap_inner is not None else provider

        return factory(spec, create=create_inner)


CORE_TABLES = ("providers", "checks", "suite_kinds")


def make_plugin_manager(builtins: Iterable[Any] = (), extra_plugins: Iterable[Any] = ()) -> pluggy.PluginManager:
    """A plugin manager with the core hookspecs, the ``builtins`` (plugin modules, registered
    first), ``llmops`` entry points and any given plugin objects (pytest plugins and conftests)
    that implement our hooks.

    pluggy calls the most recently registered plugins first and the built-ins last, and every
    registry table keeps the first registration of a name: a plugin replaces a built-in.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # Historic: a plugin registered later still adds its hookspecs when it arrives.
    pm.hook.llmops_addhooks.call_historic(kwargs={"pluginmanager": pm})
    for module in builtins:
        pm.register(module, name=f"llmops-builtin:{getattr(module, '__name__', module)}")
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra_plugins:
        if pm.is_registered(plugin):
            continue
        if any(name.startswith("llmops_") for name in dir(plugin)):
            pm.register(plugin)
    return pm


def extension_groups(pm: pluggy.PluginManager) -> list[str]:
    """The kinds' extension tables: every ``llmops_register_<group>`` hookspec beyond the core ones."""
    prefix = "llmops_register_"
    names = [name for name in vars(pm.hook) if name.startswith(prefix) and pm.hook.__dict__[name].spec is not None]
    return [name[len(prefix):] for name in sorted(names) if name[len(prefix):] not in CORE_TABLES]


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Fill a :class:`Registry` from every registered plugin's register hooks."""
    registry = Registry()
    pm.hook.llmops_register_providers(register=registry.register_provider)
    pm.hook.llmops_register_checks(register=registry.register_check)
    pm.hook.llmops_register_suite_kinds(register=registry.register_suite_kind)
    for group in extension_groups(pm):
        table = registry.extensions.setdefault(group, {})
        getattr(pm.hook, f"llmops_register_{group}")(register=lambda obj, _table=table: _table.setdefault(obj.name, obj))
    return registry
