"""Planted faults: the corruption operators, the ``FaultyProvider`` wrapper and the ``fault:`` spec."""

from __future__ import annotations

import random
import re
from collections import Counter
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llmops_testutils import LlmProject
from pytest_llmops.core.hookspecs import hookimpl
from pytest_llmops.core.specs import SPEC_FORMS, SpecError, parse_spec
from pytest_llmops.faults import operators as ops
from pytest_llmops.faults.entities import CITIES
from pytest_llmops.faults.operators import OPERATORS
from pytest_llmops.faults.provider import FaultyProvider
from pytest_llmops.faults.spec import FaultSpecError, parse_fault_options
from pytest_llmops.providers.base import Generation, GenerationParams, GenerationRequest, InfraError
from pytest_llmops.suites.builtins import default_registry, registry_with

ANSWERS = [
    ("Paris is the capital of France.", "What is the capital of France?"),
    ("Paris.", "What is the capital of France?"),
    ("The answer is 42.", "What is six times seven?"),
    ("Albert Einstein developed the theory of relativity in 1905.", "Who developed relativity?"),
    ("You can boil water at 100 degrees Celsius at sea level.", "When does water boil?"),
    ("Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen.", "What is photosynthesis?"),
    ("yes", "Is the sky blue?"),
    ("Tokyo", "What is the capital of Japan?"),
]


def run(name: str, answer: str, question: str = "", seed: int = 7) -> str:
    """Operator `name` on `answer`, with a fresh rng seeded `seed`."""
    return OPERATORS[name](answer, question, random.Random(seed))


# -- operators -----------------------------------------------------------------------------
def test_the_ten_operators_are_registered_under_their_names() -> None:
    assert set(OPERATORS) == {"entity_swap", "negation", "truncation", "scramble", "hedging", "repetition",
                              "language_switch", "empty", "refusal", "off_topic"}


@pytest.mark.parametrize("name", sorted(OPERATORS))
@pytest.mark.parametrize("answer,question", ANSWERS)
def test_operator_is_deterministic_and_changes_the_answer(name: str, answer: str, question: str) -> None:
    first = run(name, answer, question)
    assert first == run(name, answer, question)
    assert first != answer


@settings(max_examples=200, deadline=None)
@given(answer=st.text(min_size=1, max_size=80), question=st.text(max_size=40), seed=st.integers(0, 2**32))
def test_every_operator_changes_any_answer_with_words(answer: str, question: str, seed: int) -> None:
    assume(answer.strip())
    words = answer.split()
    for name in OPERATORS:
        unscramblable = len(set(words)) < 2 and (len(words) != 1 or len(set(words[0])) < 2)
        if name == "scramble" and unscramblable:
            continue  # "ha ha" and "aaa" have no other order
        assert run(name, answer, question, seed) != answer, name


def test_templates_are_never_the_answer_itself() -> None:
    assert run("refusal", ops.REFUSALS[0], "", 1) != ops.REFUSALS[0]
    french = ops.FOREIGN[0].format(entity="Paris")
    assert {run("language_switch", french, "", seed) for seed in range(30)} & {french} == set()


@pytest.mark.parametrize("name", ["hedging", "refusal", "off_topic", "language_switch", "entity_swap"])
def test_operator_choices_follow_the_rng(name: str) -> None:
    """Outputs depend on the rng state: not every seed picks the same template or entity."""
    answer, question = ANSWERS[0]
    assert len({run(name, answer, question, seed) for seed in range(30)}) > 1


def test_entity_swap_replaces_the_entity_with_one_of_its_kind() -> None:
    swapped = run("entity_swap", "Paris is the capital of France.", "What is the capital of France?")
    assert swapped.endswith(" is the capital of France.")
    assert swapped.split()[0] in CITIES and swapped.split()[0] != "Paris"
    number = run("entity_swap", "The answer is 42.")
    assert number.startswith("The answer is ") and 1 <= abs(int(number.split()[-1].rstrip(".")) - 42) <= 9
    person = run("entity_swap", "Marie Curie discovered radium.", "Who discovered radium?")
    assert person.endswith(" discovered radium.") and "Marie" not in person and len(person.split()) == 4
    assert run("entity_swap", "yes") == "no"


@settings(max_examples=300, deadline=None)
@given(answer=st.text(max_size=80), question=st.text(max_size=40), seed=st.integers(0, 2**32))
def test_entity_swap_never_returns_the_same_text(answer: str, question: str, seed: int) -> None:
    assert run("entity_swap", answer, question, seed) != answer


def test_negation_negates_the_main_clause() -> None:
    assert run("negation", "Paris is the capital of France.") == "Paris is not the capital of France."
    assert run("negation", "It was built in 1889 and is tall.") == "It was not built in 1889 and is tall."
    assert run("negation", "Birds can fly south.") == "Birds cannot fly south."
    assert run("negation", "You can't divide by zero.") == "You can divide by zero."
    assert run("negation", "Water boils at 100 degrees.") == "It is not true that water boils at 100 degrees."
    assert run("negation", "Paris.") == "Not Paris."
    assert run("negation", "New York") == "Not New York."


@pytest.mark.parametrize("answer,question", ANSWERS)
def test_truncation_keeps_a_strictly_shorter_prefix(answer: str, question: str) -> None:
    cut = run("truncation", answer, question)
    words = answer.split()
    assert len(cut) < len(answer) and not cut.endswith((".", ",", "!", "?"))
    if len(words) >= 2:
        assert 1 <= len(cut.split()) < len(words) and answer.startswith(cut)
    else:
        assert words[0].startswith(cut) and len(cut) == len(words[0].rstrip(".")) // 2


def test_truncation_keeps_about_forty_percent_of_the_words() -> None:
    assert run("truncation", "one two three four five six seven eight nine ten.") == "one two three four"
    assert run("truncation", "Paris, France") == "Paris"


@settings(max_examples=300, deadline=None)
@given(answer=st.text(max_size=120), seed=st.integers(0, 2**32))
def test_scramble_keeps_every_word(answer: str, seed: int) -> None:
    scrambled = run("scramble", answer, "", seed)
    words = answer.split()
    if len(words) == 1:
        assert sorted(scrambled) == sorted(words[0])
    else:
        assert Counter(scrambled.split()) == Counter(words)
    if len(set(words)) >= 2 or (len(words) == 1 and len(set(words[0])) >= 2):
        assert scrambled.split() != words


def test_scramble_reverses_two_words_and_shuffles_one() -> None:
    assert run("scramble", "New York") == "York New"
    assert sorted(run("scramble", "Paris")) == sorted("Paris") and run("scramble", "Paris") != "Paris"


def test_hedging_wraps_the_answer_in_doubt() -> None:
    hedged = {run("hedging", "The answer is 42.", "", seed) for seed in range(40)}
    assert len(hedged) == len(ops.HEDGES)
    assert all("the answer is 42" in text and "42." not in text for text in hedged)


def test_repetition_loops() -> None:
    short = run("repetition", "Paris.")
    assert short.split() == ["Paris."] * len(short.split()) and 3 <= len(short.split()) <= 5
    long_answer = "Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen."
    looped = run("repetition", long_answer)
    assert looped.startswith(long_answer) and looped.count("oxygen.") >= 4


def test_language_switch_keeps_only_the_entity() -> None:
    switched = {run("language_switch", "The capital of Japan is Tokyo.", "What is Japan's capital?", seed)
                for seed in range(40)}
    assert switched == {template.format(entity="Tokyo") for template in ops.FOREIGN}
    assert run("language_switch", "", "") in ops.FOREIGN_BARE


def test_empty_refusal_and_off_topic() -> None:
    assert run("empty", "Paris is the capital of France.") == ""
    assert run("refusal", "Paris.") in ops.REFUSALS
    off = run("off_topic", "Paris.")
    assert off in ops.OFF_TOPIC and len(ops.OFF_TOPIC) >= 15
    assert run("off_topic", ops.OFF_TOPIC[3], "", 1) != ops.OFF_TOPIC[3]


# -- the provider ---------------------------------------------------------------------------
class FixedProvider:
    """A real provider with a fixed answer per request; ``FAIL`` in a question is an infra error."""

    def __init__(self, spec: Any = None) -> None:
        self.alias = "fixed"
        self.closed = False
        self.loaded = False

    def fingerprint(self) -> str:
        return "fixed-fingerprint"

    def describe(self) -> dict[str, Any]:
        return {"provider": "fixed", "device": "cpu"}

    def load(self) -> None:
        self.loaded = True

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        out: list[Generation | InfraError] = []
        for request in requests:
            question = request.messages[-1][1]
            if "FAIL" in question:
                out.append(InfraError("down"))
            else:
                out.append(Generation(text=f"The answer to {question} is Paris, in France.", output_tokens=9))
        return out

    def close(self) -> None:
        self.closed = True


def requests(n: int) -> list[GenerationRequest]:
    return [GenerationRequest.prompt(f"question number {i}?", params=GenerationParams(max_new_tokens=8))
            for i in range(n)]


def corrupted_indices(provider: FaultyProvider, batch: list[GenerationRequest]) -> set[int]:
    clean = FixedProvider().generate_batch(batch)
    faulty = provider.generate_batch(batch)
    return {i for i, (a, b) in enumerate(zip(clean, faulty)) if a.text != b.text}  # type: ignore[union-attr]


def test_rate_zero_is_the_inner_model() -> None:
    batch = requests(50)
    faulty = FaultyProvider(FixedProvider(), "scramble", rate=0.0, seed=1).generate_batch(batch)
    assert [g.text for g in faulty] == [g.text for g in FixedProvider().generate_batch(batch)]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_rate_one_corrupts_every_answer(name: str) -> None:
    assert corrupted_indices(FaultyProvider(FixedProvider(), name, rate=1.0, seed=1), requests(20)) == set(range(20))


def test_a_seeded_share_is_corrupted_the_same_in_every_call_and_order() -> None:
    batch = requests(200)
    provider = FaultyProvider(FixedProvider(), "refusal", rate=0.3, seed=1)
    first = corrupted_indices(provider, batch)
    assert 0.2 * 200 <= len(first) <= 0.4 * 200
    assert corrupted_indices(provider, batch) == first
    order = list(range(200))
    random.Random(5).shuffle(order)
    shuffled = corrupted_indices(provider, [batch[i] for i in order])
    assert {order[i] for i in shuffled} == first
    halves = corrupted_indices(provider, batch[:77]) | {77 + i for i in corrupted_indices(provider, batch[77:])}
    assert halves == first
    assert corrupted_indices(FaultyProvider(FixedProvider(), "refusal", rate=0.3, seed=2), batch) != first


def test_corrupted_answers_repeat_exactly() -> None:
    batch = requests(30)
    one = FaultyProvider(FixedProvider(), "entity_swap", rate=1.0, seed=3).generate_batch(batch)
    two = FaultyProvider(FixedProvider(), "entity_swap", rate=1.0, seed=3).generate_batch(batch[::-1])[::-1]
    assert [g.text for g in one] == [g.text for g in two]  # type: ignore[union-attr]
    assert len({g.text for g in one}) > 1  # type: ignore[union-attr]  # each request its own swap


def test_infra_errors_pass_through_untouched() -> None:
    batch = [GenerationRequest.prompt("FAIL now"), GenerationRequest.prompt("fine?")]
    results = FaultyProvider(FixedProvider(), "empty", rate=1.0, seed=0).generate_batch(batch)
    assert isinstance(results[0], InfraError) and str(results[0]) == "down"
    assert isinstance(results[1], Generation) and results[1].text == "" and results[1].output_tokens == 0


def test_fingerprint_describe_load_and_close() -> None:
    inner = FixedProvider()
    provider = FaultyProvider(inner, "negation", rate=0.5, seed=4, alias="bad")
    prints = {provider.fingerprint(), FaultyProvider(FixedProvider(), "negation", 0.5, 5).fingerprint(),
              FaultyProvider(FixedProvider(), "negation", 0.25, 4).fingerprint(),
              FaultyProvider(FixedProvider(), "hedging", 0.5, 4).fingerprint(), inner.fingerprint()}
    assert len(prints) == 5
    assert FaultyProvider(FixedProvider(), "negation", 0.5, 4).fingerprint() == provider.fingerprint()
    info = provider.describe()
    assert info["provider"] == "fault" and info["device"] == "cpu"
    assert (info["fault_operator"], info["fault_rate"], info["fault_seed"], info["fault_inner"]) == \
        ("negation", 0.5, 4, "fixed")
    provider.load()
    provider.close()
    assert inner.loaded and inner.closed and provider.alias == "bad"


# -- the fault: spec -------------------------------------------------------------------------
def _register_fixed(register: Callable[..., None]) -> None:
    register("fixed", FixedProvider, form="fixed:NAME")


def registry() -> Any:
    """The built-ins plus a plugin registering ``fixed:NAME``, as a conftest would."""
    plugin = SimpleNamespace(llmops_register_providers=hookimpl(_register_fixed))
    return registry_with([plugin])


def test_fault_spec_wraps_a_plugins_provider() -> None:
    spec = parse_spec("fault:scramble?rate=1&seed=1&inner=fixed:x")
    provider = registry().create_provider(spec)
    assert isinstance(provider, FaultyProvider) and isinstance(provider.inner, FixedProvider)
    assert (provider.operator, provider.rate, provider.seed, provider.alias) == ("scramble", 1.0, 1, "fault-scramble-1-1")


def test_fault_spec_defaults_and_form() -> None:
    assert "fault" in default_registry().providers
    assert SPEC_FORMS[3] in default_registry().accepted_forms()
    provider = registry().create_provider(parse_spec("fault:refusal?inner=fixed:x&alias=worse"))
    assert (provider.rate, provider.seed, provider.alias) == (0.3, 0, "worse")
    assert parse_spec("fault:negation").alias == "fault-negation"


@pytest.mark.parametrize("spec,named", [
    ("fault:nope?inner=fixed:x", "unknown fault operator 'nope'; known: empty, entity_swap, hedging"),
    ("fault:empty?rate=1.5&inner=fixed:x", "rate='1.5': expected a number in [0, 1]"),
    ("fault:empty?rate=-0.1&inner=fixed:x", "rate='-0.1'"),
    ("fault:empty?rate=half&inner=fixed:x", "rate='half'"),
    ("fault:empty?rate=nan&inner=fixed:x", "rate='nan'"),
    ("fault:empty?seed=1.5&inner=fixed:x", "seed='1.5': expected an integer"),
    ("fault:empty?sed=1&inner=fixed:x", "unknown option(s) ['sed']"),
    ("fault:empty?inner=fixed", "inner='fixed': invalid model spec"),
    ("fault:empty?inner=nosuch:x", "unknown provider 'nosuch'"),
])
def test_bad_fault_specs_name_the_option(spec: str, named: str) -> None:
    """Checked when the run starts (validate_spec) and again if a provider is made anyway."""
    with pytest.raises(SpecError) as info:
        registry().validate_spec(parse_spec(spec))
    assert f"invalid model spec {spec!r}: " in str(info.value) and named in str(info.value)
    with pytest.raises(SpecError, match=re.escape(named)):
        registry().create_provider(parse_spec(spec))


def test_fault_options_errors_are_value_errors() -> None:
    with pytest.raises(FaultSpecError, match="rate='2'"):
        parse_fault_options(parse_spec("fault:empty?rate=2"))
    with pytest.raises(FaultSpecError, match="unknown fault operator 'nope'"):
        FaultyProvider(FixedProvider(), "nope", rate=0.5)
    assert issubclass(FaultSpecError, ValueError)


def test_a_bad_fault_spec_is_a_usage_error(project: LlmProject) -> None:
    """In a run: the inner model is the conftest's echo provider (``-p`` for the built-in plugin is
    accepted and registers nothing twice); a bad operator stops the run before it starts."""
    project.suite("tiny", """
        cases:
          - id: one
            input: hello there
            checks: [contains: hello]
    """)
    good = project.run("--llm-model=fault:refusal?rate=1&inner=echo:a", "-p", "no:cacheprovider",
                       "-p", "pytest_llmops.faults.plugin")
    good.assert_outcomes(failed=1)
    assert project.cases()["one[fault-refusal-1]"]["output"] in ops.REFUSALS
    bad = project.run("--llm-model=fault:nope?inner=echo:a", "-p", "no:cacheprovider")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown fault operator 'nope'" in bad.stderr.str()
    assert "collected" not in bad.stdout.str()


# -- end to end, with the real embedded model ------------------------------------------------
@pytest.mark.slow
def test_scramble_on_smollm2_changes_outputs_and_keeps_words(project: LlmProject) -> None:
    # Loaded here, before the in-process run: pytester drops modules first imported inside it,
    # and torch cannot be imported twice in one process.
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    project.suite("capitals", """
        generation: {max_new_tokens: 16}
        cases:
          - id: france
            input: What is the capital of France?
            checks: [max-length: 2000]
          - id: japan
            input: What is the capital of Japan?
            checks: [max-length: 2000]
    """)
    result = project.run("--llm-model=smollm2", "--llm-model=fault:scramble?rate=1&seed=1", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    cases = project.cases()
    for case in ("france", "japan"):
        clean, scrambled = cases[f"{case}[smollm2]"]["output"], cases[f"{case}[fault-scramble-1-1]"]["output"]
        assert len(clean.split()) >= 2 and scrambled != clean
        assert Counter(scrambled.split()) == Counter(clean.split())
