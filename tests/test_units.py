"""Unit tests: stats, specs, checks, generation params, the engine and the report builder."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Sequence

import pytest

from pytest_llmops.core.cache import ResponseCache
from pytest_llmops.checks.builtin import BUILTIN_CHECKS, extract_json
from pytest_llmops.core.engine import Engine
from pytest_llmops.providers.base import Generation, GenerationParams, GenerationRequest, InfraError
from pytest_llmops.report.json_report import ReportBuilder
from pytest_llmops.core.specs import SPEC_FORMS, SpecError, parse_spec
from pytest_llmops.core.stats import rate_metric, wilson_interval
from pytest_llmops.testing import EchoProvider

# -- stats ------------------------------------------------------------------------------------------


def test_wilson_known_values() -> None:
    low, high = wilson_interval(9, 10)
    assert low == pytest.approx(0.596, abs=5e-4)
    assert high == pytest.approx(0.982, abs=5e-4)
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=5e-4)
    assert low + high == pytest.approx(1.0)  # symmetric at p = 0.5


def test_wilson_edges() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=5e-4)
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low == pytest.approx(0.7225, abs=5e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(3, -1) == (0.0, 1.0)


def test_wilson_narrows_with_n_and_rejects_bad_counts() -> None:
    narrow = wilson_interval(900, 1000)
    wide = wilson_interval(9, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert narrow[0] <= 0.9 <= narrow[1]
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(-1, 10)


def test_rate_metric() -> None:
    metric = rate_metric(9, 10)
    assert metric["value"] == 0.9
    assert metric["n"] == 10
    assert metric["ci95"] == [pytest.approx(0.59585, abs=1e-5), pytest.approx(0.982124, abs=1e-5)]
    assert rate_metric(0, 0) == {"value": None, "ci95": [0.0, 1.0], "n": 0}


# -- specs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, provider, target, options, alias", [
    ("smollm2", "smollm2", "", {}, "smollm2"),
    ("  smollm2  ", "smollm2", "", {}, "smollm2"),
    ("smollm2:?alias=small", "smollm2", "", {"alias": "small"}, "small"),
    ("hf:Qwen/Qwen2.5-0.5B-Instruct", "hf", "Qwen/Qwen2.5-0.5B-Instruct", {}, "Qwen2.5-0.5B-Instruct"),
    ("hf:./models/tiny/", "hf", "./models/tiny/", {}, "tiny"),
    ("hf:/abs/model.gguf?dtype=float32&device=cpu", "hf", "/abs/model.gguf",
     {"dtype": "float32", "device": "cpu"}, "model.gguf"),
    ("hf:org/m?alias=mine", "hf", "org/m", {"alias": "mine"}, "mine"),
    ("HF:org/m", "hf", "org/m", {}, "m"),
    ("openai:gpt-4o-mini@http://localhost:8000/v1", "openai", "gpt-4o-mini@http://localhost:8000/v1", {},
     "gpt-4o-mini"),
    ("openai:org/model:q4@https://api.example.com/v1?api_key_env=KEY&timeout=5", "openai",
     "org/model:q4@https://api.example.com/v1", {"api_key_env": "KEY", "timeout": "5"}, "org-model-q4"),
    ("echo:foo bar", "echo", "foo bar", {}, "foo-bar"),
    ("my-plugin:thing", "my-plugin", "thing", {}, "thing"),
])
def test_parse_spec_forms(raw: str, provider: str, target: str, options: dict[str, str], alias: str) -> None:
    spec = parse_spec(raw)
    assert (spec.provider, spec.target, spec.options, spec.alias) == (provider, target, options, alias)
    assert spec.raw == raw.strip()


@pytest.mark.parametrize("raw, why", [
    ("", "empty"),
    ("   ", "empty"),
    ("bogus", "expected PROVIDER:TARGET"),
    ("hf:", "needs a target"),
    ("hf:?dtype=float32", "needs a target"),
    ("openai:m@notaurl", "http(s) base URL"),
    ("openai:m", "http(s) base URL"),
    ("openai:@http://x", "http(s) base URL"),
    ("9x:y", "not a lowercase identifier"),
    ("my plugin:y", "not a lowercase identifier"),
    ("hf:m?alias=a/b", "may only use letters"),
    ("openai:m@http://x?api_key=sk-123", "'api_key' would put a secret"),
    ("hf:m?token=abc", "'token' would put a secret"),
])
def test_parse_spec_errors_list_the_forms(raw: str, why: str) -> None:
    with pytest.raises(SpecError) as excinfo:
        parse_spec(raw)
    message = str(excinfo.value)
    assert why in message
    assert f"invalid model spec {raw!r}" in message
    for form in SPEC_FORMS:
        assert form in message
    assert "sk-123" not in message.split("Accepted forms")[1]


def test_specs_are_hashable_values() -> None:
    assert parse_spec("hf:a/b") == parse_spec("hf:a/b")
    assert parse_spec("hf:a/b") != parse_spec("hf:a/b?alias=x")
    assert hash(parse_spec("hf:a/b?dtype=fp32")) == hash(parse_spec("hf:a/b?dtype=fp32"))
    assert len({parse_spec("hf:a/b"), parse_spec("hf:a/b"), parse_spec("hf:a/b?alias=x")}) == 2
    assert {parse_spec("hf:a/b"): 1}[parse_spec("hf:a/b")] == 1  # usable as a dict key


# -- checks ------------------------------------------------------------------------------------------
CHECKS = {check.name: check for check in BUILTIN_CHECKS}
OUTPUT = "The capital of France is Paris. Code 4711."

# name -> (argument, passes on OUTPUT?, text the evidence mentions)
CHECK_CASES = [
    ("equals", "The capital of France is Paris. Code 4711.", True, "equals"),
    ("equals", ["nope", "  The capital of France is Paris. Code 4711.\n"], True, "equals"),
    ("equals", "The capital", False, "differs from ['The capital']"),
    ("contains", "Paris", True, "'Paris' at 25"),
    ("contains", ["Paris", "France"], True, "'France' at 15"),
    ("contains", ["Paris", "Berlin"], False, "missing ['Berlin']"),
    ("contains", "paris", False, "missing ['paris']"),
    ("icontains", "PARIS", True, "'PARIS' at 25"),
    ("icontains", ["paris", "code"], True, "'code' at 32"),
    ("icontains", "berlin", False, "missing ['berlin']"),
    ("contains-any", ["Berlin", "Paris"], True, "'Paris' at 25"),
    ("contains-any", ["Berlin", "Rome"], False, "no match"),
    ("icontains-any", ["berlin", "PARIS"], True, "'PARIS' at 25"),
    ("icontains-any", ["berlin"], False, "no match"),
    ("not-contains", "Berlin", True, "no match"),
    ("not-contains", ["Berlin", "Paris"], False, "'Paris' at 25"),
    ("not-icontains", "berlin", True, "no match"),
    ("not-icontains", "paris", False, "'paris' at 25"),
    ("regex", r"\d{4}", True, "matched '4711' at 37"),
    ("regex", r"(?i)the CAPITAL", True, "matched 'The capital' at 0"),
    ("regex", r"\d{5}", False, r"no match for /\d{5}/"),
    ("max-length", 100, True, f"{len(OUTPUT)} characters (max 100)"),
    ("max-length", 10, False, f"{len(OUTPUT)} characters (max 10)"),
    ("refusal", False, True, "no refusal phrase"),
    ("refusal", True, False, "no refusal phrase"),
]


@pytest.mark.parametrize("name, arg, passes, evidence", CHECK_CASES)
def test_builtin_check(name: str, arg: Any, passes: bool, evidence: str) -> None:
    check = CHECKS[name]
    result = check.evaluate(OUTPUT, check.validate(arg), {})
    assert result.passed is passes
    assert result.name == name
    assert evidence in result.evidence
    assert result.as_dict()["passed"] is passes


def test_every_builtin_check_is_covered() -> None:
    covered = {name for name, *_ in CHECK_CASES} | {"is-json", "similar"}
    assert covered == set(CHECKS)


def test_contains_score_is_the_fraction_found() -> None:
    check = CHECKS["contains"]
    result = check.evaluate(OUTPUT, check.validate(["Paris", "Rome", "France", "Oslo"]), {})
    assert result.score == 0.5
    assert result.passed is False


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't help with that.",
    "I cannot assist with that request.",
    "I must decline.",
    "That would violate my guidelines.",
])
def test_refusal_detected(text: str) -> None:
    check = CHECKS["refusal"]
    assert check.evaluate(text, True, {}).passed
    result = check.evaluate(text, False, {})
    assert not result.passed
    assert result.evidence.startswith("refusal phrase ")


@pytest.mark.parametrize("output, arg, passes, evidence", [
    ('{"a": 1}', True, True, "valid JSON"),
    ('Here you go:\n```json\n{"a": 1}\n```', None, True, "valid JSON"),
    ('The answer is {"a": 1} as asked.', True, True, "valid JSON"),
    ("[1, 2, 3]", True, True, "valid JSON"),
    ("no json here", True, False, "not JSON"),
    ('{"name": "Ada", "age": 36}', {"schema": {"type": "object", "required": ["name", "age"]}}, True,
     "matching the schema"),
    ('{"name": "Ada"}', {"schema": {"type": "object", "required": ["name", "age"]}}, False,
     "schema violation at (root): 'age' is a required property"),
    ('{"items": [1, "x"]}', {"schema": {"properties": {"items": {"items": {"type": "integer"}}}}}, False,
     "schema violation at items/1"),
])
def test_is_json(output: str, arg: Any, passes: bool, evidence: str) -> None:
    check = CHECKS["is-json"]
    result = check.evaluate(output, check.validate(arg), {})
    assert result.passed is passes
    assert evidence in result.evidence


def test_extract_json() -> None:
    assert extract_json('```\n{"x": [1]}\n```') == {"x": [1]}
    assert extract_json('prefix [1, {"a": 2}] suffix') == [1, {"a": 2}]
    with pytest.raises(ValueError):
        extract_json("nothing")


@pytest.mark.parametrize("name, arg, message", [
    ("contains", {"a": 1}, "expects a string or a list of strings"),
    ("contains", [], "expects a string or a list of strings"),
    ("contains", [True], "expects a string or a list of strings"),
    ("equals", None, "expects a string or a list of strings"),
    ("regex", "([a-z", "invalid regular expression"),
    ("regex", 12, "expects a pattern string"),
    ("is-json", {"schema": {"type": 12}}, "invalid JSON schema"),
    ("is-json", {"scheme": {}}, "expects true or {schema"),
    ("is-json", "yes", "expects true or {schema"),
    ("max-length", -1, "non-negative integer"),
    ("max-length", True, "non-negative integer"),
    ("max-length", "10", "non-negative integer"),
    ("refusal", "no", "expects true or false"),
    ("similar", {"value": "x", "threshold": 2}, "must be a number in [-1, 1]"),
    ("similar", {"text": "x"}, "expects a string or {value"),
])
def test_check_arguments_are_validated(name: str, arg: Any, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        CHECKS[name].validate(arg)
    assert message in str(excinfo.value)


def test_check_argument_normalisation() -> None:
    assert CHECKS["contains"].validate("x") == ["x"]
    assert CHECKS["contains"].validate(42) == ["42"]
    assert CHECKS["refusal"].validate(None) is True
    assert CHECKS["is-json"].validate(True) == {}
    assert CHECKS["similar"].validate("ref") == {"value": "ref", "threshold": 0.75}
    assert CHECKS["similar"].validate({"value": "ref", "threshold": 1}) == {"value": "ref", "threshold": 1.0}


# -- GenerationParams -------------------------------------------------------------------------------
def test_generation_params_defaults_are_greedy() -> None:
    params = GenerationParams()
    assert params.greedy
    assert params.as_dict() == {"max_new_tokens": 64, "temperature": 0.0, "top_p": 1.0, "seed": 0, "stop": []}


def test_generation_params_from_mapping_overrides_base() -> None:
    base = GenerationParams(max_new_tokens=32, seed=5)
    params = GenerationParams.from_mapping({"temperature": "0.7", "stop": "\n"}, base)
    assert params == GenerationParams(max_new_tokens=32, temperature=0.7, top_p=1.0, seed=5, stop=("\n",))
    assert not params.greedy
    assert GenerationParams.from_mapping({"stop": ["a", 1]}).stop == ("a", "1")
    assert GenerationParams.from_mapping({"max_new_tokens": "8"}).max_new_tokens == 8
    assert GenerationParams.from_mapping({}, base) == base


def test_generation_params_from_mapping_errors() -> None:
    with pytest.raises(KeyError) as excinfo:
        GenerationParams.from_mapping({"max_tokens": 3})
    assert excinfo.value.args[0] == "max_tokens"
    with pytest.raises(ValueError):
        GenerationParams.from_mapping({"temperature": "hot"})


# -- Engine with the echo provider ----------------------------------------------------------------
class CountingEcho(EchoProvider):
    """The echo provider, remembering each batch it was asked for."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.batches: list[list[str]] = []

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        self.batches.append([r.messages[-1][1] for r in requests])
        return super().generate_batch(requests)

    @property
    def generated(self) -> list[str]:
        return [text for batch in self.batches for text in batch]


def _engine(tmp_path: Path, mode: str = "rw", worker_index: int = 0, worker_count: int = 1,
            chunk_size: int = 64, models: Sequence[str] = ("echo:m",)) -> tuple[Engine, dict[str, CountingEcho]]:
    providers: dict[str, CountingEcho] = {}

    def factory(spec: Any) -> CountingEcho:
        providers[spec.alias] = CountingEcho(spec)
        return providers[spec.alias]

    cache = ResponseCache(tmp_path / "cache.sqlite", mode)
    engine = Engine([parse_spec(m) for m in models], cache, factory, worker_index, worker_count, chunk_size)
    return engine, providers


def _prompts(n: int, prefix: str = "prompt") -> list[GenerationRequest]:
    return [GenerationRequest.prompt(f"{prefix} {i}") for i in range(n)]


def test_engine_prefetch_then_generate_serves_from_memory(tmp_path: Path) -> None:
    engine, providers = _engine(tmp_path, chunk_size=4)
    requests = _prompts(10)
    engine.prefetch("m", requests)
    provider = providers["m"]
    assert sorted(provider.generated) == sorted(f"prompt {i}" for i in range(10))
    assert all(len(batch) <= 4 for batch in provider.batches)
    assert len(engine.cache) == 10
    calls = len(provider.generated)
    for i, request in enumerate(requests):
        generation = engine.generate("m", request)
        assert generation.text == f"echo: prompt {i}"
        assert generation.cached is False
    assert len(provider.generated) == calls  # nothing generated twice
    assert not engine._state("m").ready  # each result left memory once its case took it
    stats = engine.stats("m")
    assert (stats.generated, stats.cache_hits, stats.infra_errors) == (10, 0, 0)
    assert engine.is_prefetched("m")
    engine.close()


def test_engine_peek_leaves_prefetched_results_for_their_cases(tmp_path: Path) -> None:
    # With the cache off, a result taken early would be generated again when its case asks.
    engine, providers = _engine(tmp_path, mode="off")
    requests = _prompts(4)
    assert engine.peek_many("m", requests) == [None] * 4  # nothing prefetched yet, nothing generated
    engine.prefetch("m", requests[:3])
    peeked = engine.peek_many("m", requests)
    assert [getattr(g, "text", None) for g in peeked] == ["echo: prompt 0", "echo: prompt 1", "echo: prompt 2", None]
    assert engine.peek_many("m", requests[:3]) == peeked[:3]  # peeking twice takes nothing
    served = engine.generate_many("m", requests[:3])
    assert [g.text for g in served] == [g.text for g in peeked[:3]]
    assert sorted(providers["m"].generated) == ["prompt 0", "prompt 1", "prompt 2"]  # each generated once
    assert engine.stats("m").cache_hits == 0 and not engine._state("m").ready
    engine.close()


def test_engine_prefetch_uses_the_cache_of_an_earlier_run(tmp_path: Path) -> None:
    first, _ = _engine(tmp_path)
    first.prefetch("m", _prompts(5))
    first.close()
    second, providers = _engine(tmp_path)
    second.prefetch("m", _prompts(5))
    assert providers["m"].generated == []
    assert second.generate("m", _prompts(5)[3]).cached is True
    assert second.stats("m").cache_hits == 5
    second.close()


def test_engine_generate_without_prefetch_and_duplicates(tmp_path: Path) -> None:
    engine, providers = _engine(tmp_path)
    request = GenerationRequest.prompt("once")
    engine.prefetch("m", [request, request])  # two cases asking the same thing
    assert providers["m"].generated == ["once"]
    assert engine.generate("m", request).text == "echo: once"
    assert engine.generate("m", request).text == "echo: once"
    # A request nobody prefetched is generated on demand (and then cached).
    assert engine.generate("m", GenerationRequest.prompt("late")).text == "echo: late"
    assert providers["m"].generated == ["once", "late"]
    again = engine.generate("m", GenerationRequest.prompt("late"))
    # Served from the cache without asking the model, but written during this run: not "cached".
    assert again.text == "echo: late" and again.cached is False
    assert providers["m"].generated == ["once", "late"]
    engine.close()


def test_engine_generate_many(tmp_path: Path) -> None:
    engine, providers = _engine(tmp_path)
    engine.generate("m", GenerationRequest.prompt("b"))
    requests = [GenerationRequest.prompt(t) for t in ("a", "b", "c", "a")]
    results = engine.generate_many("m", requests)
    assert [r.text for r in results] == ["echo: a", "echo: b", "echo: c", "echo: a"]
    assert not any(r.cached for r in results)  # all from this run
    assert providers["m"].batches == [["b"], ["a", "c"]]  # one batch, duplicates once
    engine.close()


def test_engine_infra_errors_are_not_cached(tmp_path: Path) -> None:
    engine, providers = _engine(tmp_path)
    requests = [GenerationRequest.prompt("fine"), GenerationRequest.prompt("INFRA_FAIL please")]
    results = engine.generate_many("m", requests)
    assert isinstance(results[0], Generation)
    assert isinstance(results[1], InfraError)
    assert "simulated endpoint failure" in str(results[1])
    assert len(engine.cache) == 1
    assert engine.stats("m").infra_errors == 1
    with pytest.raises(InfraError):
        engine.generate("m", requests[1])
    assert providers["m"].generated == ["fine", "INFRA_FAIL please", "INFRA_FAIL please"]  # tried again
    engine.close()


def test_engine_infra_error_in_prefetch_is_served_once_and_not_cached(tmp_path: Path) -> None:
    engine, providers = _engine(tmp_path)
    bad = GenerationRequest.prompt("INFRA_FAIL x")
    engine.prefetch("m", [bad, GenerationRequest.prompt("ok")])
    with pytest.raises(InfraError):
        engine.generate("m", bad)
    assert len(engine.cache) == 1
    engine.close()
    again, providers = _engine(tmp_path)
    again.prefetch("m", [bad, GenerationRequest.prompt("ok")])
    assert providers["m"].generated == ["INFRA_FAIL x"]
    again.close()


def test_engine_provider_raising_infra_error_fails_the_chunk(tmp_path: Path) -> None:
    class Down(CountingEcho):
        def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
            raise InfraError("endpoint down")

    cache = ResponseCache(tmp_path / "c.sqlite")
    engine = Engine([parse_spec("echo:m")], cache, Down)
    results = engine.generate_many("m", _prompts(3))
    assert all(isinstance(r, InfraError) for r in results)
    assert len(cache) == 0
    engine.close()


@pytest.mark.parametrize("worker_index", [0, 1])
def test_engine_worker_rotation_covers_every_request(tmp_path: Path, worker_index: int) -> None:
    engine, providers = _engine(tmp_path, worker_index=worker_index, worker_count=2, chunk_size=3)
    requests = _prompts(10)
    engine.prefetch("m", requests)
    generated = providers["m"].generated
    assert sorted(generated) == sorted(f"prompt {i}" for i in range(10))
    assert len(generated) == 10
    for i, request in enumerate(requests):
        assert engine.generate("m", request).text == f"echo: prompt {i}"
    assert len(providers["m"].generated) == 10
    engine.close()


def test_engine_workers_start_at_different_chunks(tmp_path: Path) -> None:
    requests = _prompts(12)
    expected = sorted(f"prompt {i}" for i in range(12))
    firsts = []
    for index in (0, 1):
        engine, providers = _engine(tmp_path / str(index), worker_index=index, worker_count=2, chunk_size=3)
        engine.prefetch("m", requests)
        assert sorted(providers["m"].generated) == expected
        firsts.append(providers["m"].batches[0])
        engine.close()
    assert firsts[0] != firsts[1]
    assert not set(firsts[0]) & set(firsts[1])


def test_engine_second_worker_finds_the_first_workers_answers_in_the_shared_cache(tmp_path: Path) -> None:
    requests = _prompts(12)
    first, first_providers = _engine(tmp_path, worker_index=0, worker_count=2, chunk_size=3)
    first.prefetch("m", requests)
    assert len(first_providers["m"].generated) == 12
    second, second_providers = _engine(tmp_path, worker_index=1, worker_count=2, chunk_size=3)
    second.prefetch("m", requests)
    assert second_providers["m"].generated == []
    for i, request in enumerate(requests):
        assert second.generate("m", request).text == f"echo: prompt {i}"
    assert second.stats("m").cache_hits == 12
    first.close()
    second.close()


def test_engine_unknown_alias(tmp_path: Path) -> None:
    engine, _ = _engine(tmp_path)
    with pytest.raises(KeyError, match="no model with alias 'x'"):
        engine.generate("x", GenerationRequest.prompt("hi"))
    assert engine.aliases == ["m"]
    assert engine.describe("m") == {}  # no provider created yet
    engine.close()


def test_engine_fingerprints_and_describe(tmp_path: Path) -> None:
    engine, _ = _engine(tmp_path, models=("echo:one", "echo:two"))
    assert engine.fingerprint("one") != engine.fingerprint("two")
    assert engine.describe("one") == {"provider": "echo", "device": "cpu", "gpu": None}
    engine.close()


# -- ReportBuilder ----------------------------------------------------------------------------------
def _record(suite: str, model: str, index: int, outcome: str = "passed", **extra: Any) -> dict[str, Any]:
    return {"id": f"case-{index}", "suite": suite, "model": model, "index": index, "outcome": outcome,
            "kind": "functional", "output": f"out {index}", "checks": [], "cached": False, **extra}


def _records() -> list[dict[str, Any]]:
    out = []
    for suite in ("beta", "alpha"):
        for model in ("m2", "m1"):
            for index in range(6):
                outcome = ("passed", "failed", "error", "passed", "skipped", "passed")[index]
                out.append(_record(suite, model, index, outcome, cached=index % 2 == 0))
    return out


def test_report_builder_order_is_independent_of_add_order(tmp_path: Path) -> None:
    run = {"started_at": "x", "models": []}
    texts = []
    for seed in (0, 1, 2):
        records = _records()
        random.Random(seed).shuffle(records)
        builder = ReportBuilder(tmp_path / f"r{seed}")
        for record in records:
            builder.add(record)
        path = builder.write(tmp_path / f"r{seed}" / "report.json", builder.header(run))
        builder.close()
        texts.append(path.read_text(encoding="utf-8"))
    assert texts[0] == texts[1] == texts[2]
    report = json.loads(texts[0])
    assert [(c["suite"], c["model"], c["index"]) for c in report["cases"]][:7] == [
        ("alpha", "m1", i) for i in range(6)] + [("alpha", "m2", 0)]


def test_report_builder_writes_valid_json_with_suite_totals(tmp_path: Path) -> None:
    builder = ReportBuilder(tmp_path)
    for record in _records():
        builder.add(record)
    assert builder.case_count == 24
    header = builder.header({"seed": 0})
    header["mine"] = {"a": 1}
    path = builder.write(tmp_path / "out" / "llmops-report.json", header)
    builder.close()
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["schema_version"] == 1
    assert report["run"] == {"seed": 0}
    assert report["mine"] == {"a": 1}
    assert list(report["suites"]) == ["alpha[m1]", "alpha[m2]", "beta[m1]", "beta[m2]"]
    suite = report["suites"]["alpha[m1]"]
    assert (suite["n"], suite["passed"], suite["failed"], suite["errors"], suite["skipped"], suite["cached"]) == \
        (6, 3, 1, 1, 1, 3)
    assert suite["metrics"]["pass_rate"]["n"] == 4  # errors and skips are not scored
    assert suite["metrics"]["pass_rate"]["value"] == 0.75
    assert suite["metrics"]["error_rate"]["n"] == 5
    assert len(report["cases"]) == 24
    assert not list(tmp_path.glob(".llmops-spool-*"))  # the spool is a temporary file


def test_report_builder_single_model_uses_plain_suite_names(tmp_path: Path) -> None:
    builder = ReportBuilder(tmp_path)
    builder.add(_record("s", "only", 0))
    assert builder.suite_key("s", "only") == "s"
    builder.add(_record("s", "other", 0))
    assert builder.suite_key("s", "only") == "s[only]"
    builder.close()


def test_report_builder_rejects_unknown_outcomes(tmp_path: Path) -> None:
    builder = ReportBuilder(tmp_path)
    with pytest.raises(ValueError, match="outcome 'weird'"):
        builder.add(_record("s", "m", 0, outcome="weird"))
    builder.close()


def test_report_builder_write_with_no_cases(tmp_path: Path) -> None:
    builder = ReportBuilder(tmp_path / "never-created")
    path = builder.write(tmp_path / "empty.json", builder.header({}))
    assert json.loads(path.read_text()) == {"schema_version": 1, "run": {}, "suites": {}, "cases": []}
