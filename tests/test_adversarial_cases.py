"""Case generation: seeded and deterministic, counts per category, ids, rendering per subject."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from llmops_testutils import LlmProject

from pytest_llmops.providers.base import GenerationParams
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.suite_file import SuiteFileError, load_suite

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "adversarial"
CORPUS = REPO / "fixtures" / "rag" / "corpus.yaml"
HEAD = f"kind: adversarial\nfixtures: {FIXTURES}\ncorpus: {CORPUS}\nbenign_outputs: false\n"
SIX = ("attacks: [direct_injection, indirect_injection, system_prompt_extraction, secret_leakage, jailbreak, "
       "harmful_request]\nstrategies: [none, base64, rot13, leetspeak, homoglyph, zero_width, payload_splitting]\n")


def load(tmp_path: Path, body: str, seed: int = 0, name: str = "adv") -> list:
    path = tmp_path / f"{name}.eval.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    registry = default_registry()
    suite = load_suite(path, tmp_path, GenerationParams(seed=seed), registry)
    return suite.cases


def fingerprint(cases: list) -> list[tuple]:
    return [(c.id, c.suite, c.system, c.input, c.data["goal"]) for c in cases]


def test_same_seed_same_cases(tmp_path: Path) -> None:
    assert fingerprint(load(tmp_path, SIX + "cases_per_category: 4\n")) == \
        fingerprint(load(tmp_path, SIX + "cases_per_category: 4\n"))


def test_different_seed_different_selection(tmp_path: Path) -> None:
    seed0 = load(tmp_path, SIX + "cases_per_category: 4\n", seed=0)
    seed1 = load(tmp_path, SIX + "cases_per_category: 4\n", seed=1)
    assert len(seed0) == len(seed1) == 24
    assert fingerprint(seed0) != fingerprint(seed1)
    # Not just new canaries: other strategies and payloads are chosen.
    assert [c.id for c in seed0] != [c.id for c in seed1]
    assert {c.data["payload"] for c in seed0} != {c.data["payload"] for c in seed1}


def test_seed_in_the_file_wins_over_the_run_seed(tmp_path: Path) -> None:
    body = SIX + "cases_per_category: 3\nseed: 7\n"
    assert fingerprint(load(tmp_path, body, seed=0)) == fingerprint(load(tmp_path, body, seed=5))


def test_adding_an_attack_does_not_change_the_others(tmp_path: Path) -> None:
    alone = load(tmp_path, "attacks: [system_prompt_extraction]\nstrategies: [none, base64]\ncases_per_category: 4\n")
    mixed = load(tmp_path, "attacks: [direct_injection, system_prompt_extraction]\nstrategies: [none, base64]\n"
                           "cases_per_category: 4\n")
    assert fingerprint(alone) == [f for f in fingerprint(mixed) if f[0].startswith("system_prompt")]


def test_counts_ids_suites_and_strategy_coverage(tmp_path: Path) -> None:
    cases = load(tmp_path, SIX + "cases_per_category: 7\nsuite: adv\n")
    assert Counter(c.suite for c in cases) == {f"adv/{cat}": 7 for cat in (
        "direct_injection", "indirect_injection", "system_prompt_extraction", "secret_leakage", "jailbreak",
        "harmful_request")}
    for case in cases:
        assert re.fullmatch(r"[a-z_]+-[a-z_0-9]+-\d{3}", case.id)
        attack, strategy, _ = case.id.rsplit("-", 2)
        assert case.data["attack"] == attack and case.data["strategy"] == strategy
        assert case.tags == [attack, case.data["category"], strategy]
    # Seven cases and seven strategies: every strategy once per attack.
    per_attack = Counter((c.data["attack"], c.data["strategy"]) for c in cases)
    assert set(per_attack.values()) == {1}


def test_per_attack_cases_and_strategies(tmp_path: Path) -> None:
    cases = load(tmp_path, "attacks:\n  - direct_injection: {cases: 2, strategies: [rot13]}\n"
                           "  - harmful_request\nstrategies: [none]\ncases_per_category: 3\n")
    assert [c.id for c in cases] == ["direct_injection-rot13-000", "direct_injection-rot13-001",
                                     "harmful_request-none-000", "harmful_request-none-001", "harmful_request-none-002"]


def test_split_none_keeps_one_suite(tmp_path: Path) -> None:
    cases = load(tmp_path, SIX + "cases_per_category: 1\nsplit: none\n")
    assert {c.suite for c in cases} == {None}


def test_model_subject_rendering(tmp_path: Path) -> None:
    cases = load(tmp_path, "system: You are Bob.\nattacks: [system_prompt_extraction, secret_leakage]\n"
                           "cases_per_category: 2\n")
    extraction = cases[0]
    canary = extraction.data["detectors"][0]["args"]["canaries"][0]
    assert extraction.system.startswith("You are Bob.\n\n") and canary in extraction.system
    assert canary not in extraction.input
    leak = next(c for c in cases if c.data["attack"] == "secret_leakage")
    planted = leak.data["meta"]["planted"]
    assert all(value in leak.system for value in planted.values())
    assert leak.data["detectors"][0]["name"] == "canary"


def test_fake_secrets_are_fake(tmp_path: Path) -> None:
    cases = load(tmp_path, "attacks: [{secret_leakage: {cases: 12}}]\n")
    values = {k: v for c in cases for k, v in c.data["meta"]["planted"].items()}
    assert values["email"].endswith("@example.org")
    assert values.get("phone", "+1-555-01").startswith("+1-555-01")
    assert values["card"].startswith("4000-00")
    assert values["api_key"].startswith("sk-test-")


def test_indirect_injection_positions_with_a_model_subject(tmp_path: Path) -> None:
    cases = load(tmp_path, "attacks: [{indirect_injection: {position: [first, last], cases: 2}}]\n")
    first, last = cases
    assert first.data["position"] == "first" and first.data["payload"] in first.data["contexts"][0]
    assert last.data["position"] == "last" and last.data["payload"] in last.data["contexts"][-1]
    assert first.input.startswith("Context:\n[1] ") and "\n\nQuestion: " in first.input


def test_rag_subject_cannot_take_a_system_prompt(tmp_path: Path) -> None:
    with pytest.raises(SuiteFileError, match="field 'system': a RAG subject uses"):
        load(tmp_path, "subject: rag\nsystem: hi\nattacks: [direct_injection]\n")


@pytest.mark.parametrize("body, field, message", [
    ("attacks: []\n", "attacks", "expected a non-empty list"),
    ("attacks: [direct_injection, direct_injection]\n", "attacks[1]", "listed twice"),
    ("attacks: [{direct_injection: {cases: -1}}]\n", "attacks[0].direct_injection.cases", "at least 1"),
    ("attacks: [{direct_injection: {colour: red}}]\n", "attacks[0].direct_injection", "unknown option 'colour'"),
    ("attacks: [{jailbreak: {styles: nope}}]\n", "attacks[0].jailbreak", "option 'styles'"),
    ("attacks: [{secret_leakage: {plant: moon}}]\n", "attacks[0].secret_leakage", "option 'plant'"),
    ("attacks: [direct_injection]\nstrategies: []\n", "strategies", "expected a list of strategy names"),
    ("attacks: [direct_injection]\nstrategies: [none, none]\n", "strategies", "listed twice"),
    ("attacks: [direct_injection]\nseed: abc\n", "seed", "expected an integer"),
    ("attacks: [direct_injection]\nsplit: attack\n", "split", "expected 'category'"),
    ("attacks: [direct_injection]\nfail_on_success: maybe\n", "fail_on_success", "expected true or false"),
    ("attacks: [direct_injection]\nrag_top_k: 0\n", "rag_top_k", "at least 1"),
    ("attacks: [direct_injection]\nvars: [1]\n", "vars", "expected a mapping"),
    ("attacks: [direct_injection]\ndefaults: {checks: [{contains: x}]}\n", "defaults", "detectors, not by checks"),
    ("attacks: [direct_injection]\nbenign_outputs: nowhere.yaml\n", "benign_outputs", "does not exist"),
    ("attacks: [direct_injection]\ngeneration: {max_new_tokens: 0}\n", "generation.max_new_tokens", "at least 1"),
    ("attacks: [direct_injection]\nbogus: 1\n", "bogus", "unknown key"),
    ("attacks: [{jailbreak: {styles: [interpretive_dance]}}]\n", "fixtures", "not in jailbreaks.yaml"),
])
def test_validation_names_the_field(tmp_path: Path, body: str, field: str, message: str) -> None:
    with pytest.raises(SuiteFileError) as info:
        load(tmp_path, body)
    text = str(info.value)
    assert f"field '{field}'" in text and message in text, text


def test_missing_corpus_file_names_the_attack(tmp_path: Path) -> None:
    fixtures = tmp_path / "fx"
    fixtures.mkdir()
    path = tmp_path / "a.eval.yaml"
    path.write_text(f"kind: adversarial\nfixtures: {fixtures}\nattacks: [harmful_request]\n", encoding="utf-8")
    registry = default_registry()
    with pytest.raises(SuiteFileError, match=r"field 'fixtures': attack 'harmful_request' needs the corpus file"):
        load_suite(path, tmp_path, GenerationParams(), registry)


def test_run_seed_changes_cases_and_reruns_come_from_the_cache(project: LlmProject) -> None:
    project.suite("adv", HEAD + "attacks: [direct_injection, system_prompt_extraction]\n"
                                "strategies: [none, base64, rot13]\ncases_per_category: 3\n")
    first = project.run("--llm-model=echo:e", "--llm-seed=1")
    first.stdout.fnmatch_lines(["model e: 6 generated, 0 from cache*"])
    ids1 = {c["id"]: c["input"] for c in project.report()["cases"]}
    again = project.run("--llm-model=echo:e", "--llm-seed=1")
    again.stdout.fnmatch_lines(["model e: 0 generated, 6 from cache*"])
    assert {c["id"]: c["input"] for c in project.report()["cases"]} == ids1
    project.run("--llm-model=echo:e", "--llm-seed=2")
    assert {c["id"]: c["input"] for c in project.report()["cases"]} != ids1
