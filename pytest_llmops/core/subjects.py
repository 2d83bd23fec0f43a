"""What tests talk to: the model subject, prompt templates and RAG pipelines."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from pytest_llmops.core.engine import Engine
from pytest_llmops.providers.base import Generation, GenerationParams, GenerationRequest, Message
from pytest_llmops.providers.schema_decoding import bounded_schema


class ModelSubject:
    """The ``llm`` fixture: one model of the run, served through the engine and its cache.

    Every call is logged so that the test's record shows what was asked and answered.
    """

    def __init__(self, engine: Engine, alias: str, default_params: GenerationParams) -> None:
        self.engine = engine
        self.alias = alias
        self.default_params = default_params
        self.log: list[dict[str, Any]] = []

    @property
    def spec(self) -> str:
        return self.engine.spec(self.alias).raw

    def _params(self, overrides: dict[str, Any]) -> GenerationParams:
        return GenerationParams.from_mapping(overrides, self.default_params) if overrides else self.default_params

    def complete(self, messages: Sequence[Message], sample_index: int = 0, **params: Any) -> Generation:
        """The full :class:`Generation` for chat ``messages`` (raises ``InfraError`` on infra failure)."""
        request = GenerationRequest.chat(messages, self._params(params), sample_index)
        generation = self.engine.generate(self.alias, request)
        self.log.append({"input": list(messages), "output": generation.text, **generation.usage()})
        return generation

    def chat(self, messages: Sequence[Message], **params: Any) -> str:
        """Answer a list of ``{"role", "content"}`` messages."""
        return self.complete(messages, **params).text

    def generate(self, prompt: str, system: str | None = None, **params: Any) -> str:
        """Answer one user prompt (with an optional system prompt)."""
        messages: list[Message] = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        return self.chat(messages, **params)

    def generate_many(self, prompts: Sequence[str], system: str | None = None, **params: Any) -> list[str]:
        """Answer many prompts in one batch; an infra failure of any raises ``InfraError``."""
        p = self._params(params)
        requests = [GenerationRequest.prompt(text, system=system, params=p) for text in prompts]
        results = self.engine.generate_many(self.alias, requests)
        texts = []
        for text, result in zip(prompts, results):
            if isinstance(result, Exception):
                raise result
            self.log.append({"input": text, "output": result.text, **result.usage()})
            texts.append(result.text)
        return texts

    def __repr__(self) -> str:
        return f"<ModelSubject {self.alias} ({self.spec})>"


class Judge:
    """A grading model: prompts (each with an optional JSON schema for the answer) in, texts out.

    Its generations go through the engine and the cache like any other, so a rerun does not
    pay for grading again, and many prompts asked together are one batch. A prompt with a
    schema is answered under constrained decoding where the provider can do it.
    ``repeat`` ``i > 0`` re-asks with sample index ``i`` at the sampling ``params`` (another seed).
    """

    def __init__(self, engine: Engine, alias: str, params: GenerationParams, name: str,
                 repeat_params: GenerationParams | None = None) -> None:
        self.engine = engine
        self.alias = alias
        self.params = params
        self.repeat_params = repeat_params or params
        self.name = name

    def fingerprint(self) -> str:
        """The judge model's fingerprint (weights and tokenizer, or endpoint and model name)."""
        return self.engine.fingerprint(self.alias)

    def _request(self, prompt: str, schema: dict[str, Any] | None, repeat: int) -> GenerationRequest:
        params = self.params if repeat == 0 else self.repeat_params
        # Bounded so that a constrained answer always ends inside the token budget.
        bounded = bounded_schema(schema) if schema is not None else None
        return GenerationRequest.prompt(prompt, params=params, sample_index=repeat, response_schema=bounded)

    def ask_many(self, items: Sequence[tuple[str, dict[str, Any] | None]],
                 repeat: int = 0) -> list[str | Exception]:
        """Answers to ``(prompt, schema)`` pairs in one batch; an infra error in place of an answer."""
        results = self.engine.generate_many(self.alias, [self._request(p, s, repeat) for p, s in items])
        return [r if isinstance(r, Exception) else r.text for r in results]

    def __repr__(self) -> str:
        return f"<Judge {self.name}>"


class PromptTemplate:
    """A jinja2 prompt template from a file; its content hash is its version.

    A ``.yaml``/``.yml`` file holds ``system:`` and ``user:`` templates; any other file is
    the user message template.
    """

    def __init__(self, path: Path) -> None:
        import jinja2  # jinja2: only when a template is rendered
        import yaml

        self.path = Path(path)
        raw = self.path.read_bytes()
        self.version = hashlib.sha256(raw).hexdigest()[:12]
        text = raw.decode("utf-8")
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
        if self.path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
            if not isinstance(data, dict) or not isinstance(data.get("user"), str):
                raise ValueError(f"{self.path}: a YAML prompt needs a 'user' template (and optionally 'system')")
            self._system = env.from_string(data["system"]) if isinstance(data.get("system"), str) else None
            self._user = env.from_string(data["user"])
        else:
            self._system = None
            self._user = env.from_string(text)

    def render(self, **variables: Any) -> list[Message]:
        """Chat messages for ``variables``; a missing variable raises ``jinja2.UndefinedError``."""
        messages: list[Message] = []
        if self._system is not None:
            messages.append({"role": "system", "content": self._system.render(**variables).strip()})
        messages.append({"role": "user", "content": self._user.render(**variables).strip()})
        return messages

    def __repr__(self) -> str:
        return f"<PromptTemplate {self.path.name}@{self.version}>"


def resolve_dotted(target: str, rootdir: Path) -> Any:
    """Import ``package.module:attribute`` with the rootdir importable (like pytest's pythonpath)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected 'module.path:attribute', got {target!r}")
    if str(rootdir) not in sys.path:
        sys.path.insert(0, str(rootdir))
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def build_rag_pipeline(target: str, llm: ModelSubject, rootdir: Path) -> Callable[[str], dict[str, Any]]:
    """The pipeline named by ``target``: a callable ``question -> {"answer", "contexts"}``.

    If the named object takes an ``llm`` parameter it is a factory and is called with the
    model subject (and ``rootdir`` if it accepts one) to build the pipeline.
    """
    obj = resolve_dotted(target, rootdir)
    try:
        parameters = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    if "llm" in parameters:
        kwargs: dict[str, Any] = {"llm": llm}
        if "rootdir" in parameters:
            kwargs["rootdir"] = rootdir
        obj = obj(**kwargs)
    if not callable(obj):
        raise TypeError(f"{target} is not callable: expected question -> {{'answer': str, 'contexts': [str]}}")
    return obj


def check_rag_result(result: Any, target: str) -> dict[str, Any]:
    """Validate a pipeline's answer shape, naming the pipeline when it is wrong."""
    if not isinstance(result, dict) or not isinstance(result.get("answer"), str) \
            or not isinstance(result.get("contexts", []), list):
        raise TypeError(f"RAG pipeline {target} returned {type(result).__name__}; expected "
                        "{'answer': str, 'contexts': [str]}")
    return result
