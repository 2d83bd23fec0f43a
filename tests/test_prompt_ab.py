"""Prompt A/B with the echo provider: variants from YAML and the command line, the comparison in
the report (plain, ``-n 2``, shards merged), gates on it, and clear errors for bad input.

The echo provider answers ``echo: <user message>``: a template that keeps ``{{ input }}`` passes
a ``contains: <input>`` check, one that drops it fails, so which variant is worse is known
beforehand and the expected p-values are computed here from the binomial distribution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmops_testutils import LlmProject, without_keys
from pytest_llmops.cli.show import summary_table
from pytest_llmops.core.stats import binomial_cdf
from pytest_llmops.merging import merge_reports
from pytest_llmops.report.refold import refold_suites
from pytest_llmops.suites.builtins import default_registry, registry_with
from pytest_llmops.suites.kinds import kind_named

N = 10  # cases; the worse variant fails every one, so McNemar sees N one-directional flips
GOOD = "Question: {{ input }}\n"
BAD = "Say nothing useful.\n"
VOLATILE = {"timings", "cached", "started_at", "duration_s", "nodeid"}


def mcnemar_p(worse: int, better: int) -> float:
    n = worse + better
    return min(1.0, 2 * binomial_cdf(min(worse, better), n, 0.5)) if n else 1.0


def cases_yaml(n: int = N) -> str:
    return "cases:\n" + "".join(f"  - id: c{i:02d}\n    input: token{i:02d}\n    checks: [{{contains: token{i:02d}}}]\n"
                                for i in range(n))


def ab_project(project: LlmProject, head: str, n: int = N) -> None:
    project.write("prompts/good.txt", GOOD)
    project.write("prompts/copy.txt", GOOD)
    project.write("prompts/bad.txt", BAD)
    project.suite("ab", head.strip() + "\n" + cases_yaml(n))


AB_HEAD = """
subject: prompt
prompts:
  good: prompts/good.txt
  copy: prompts/copy.txt
  bad: prompts/bad.txt
"""


def ab_of(report: dict[str, Any], key: str) -> dict[str, Any]:
    return report["suites"][key]["metrics"]["ab"]


# -- YAML variants ---------------------------------------------------------------------------


def test_worse_variant_is_worse_and_identical_copy_inconclusive(project: LlmProject) -> None:
    ab_project(project, AB_HEAD)
    result = project.run("--llm-model=echo:m", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the bad variant's cases fail, as cases
    report = project.report()
    assert set(report["suites"]) == {"ab@good", "ab@copy", "ab@bad"}
    assert [report["suites"][k]["passed"] for k in ("ab@good", "ab@copy", "ab@bad")] == [N, N, 0]

    bad = ab_of(report, "ab@bad")
    assert bad["reference"] == "good" and bad["reference_suite"] == "ab@good"
    assert bad["decision"] == "worse"
    rate = bad["metrics"]["pass_rate"]
    assert rate["test"] == "mcnemar_exact"
    assert rate["p_value"] == pytest.approx(mcnemar_p(N, 0), abs=1e-6)
    assert rate["p_holm"] == rate["p_value"]  # one metric compared: Holm changes nothing
    assert (rate["reference"], rate["candidate"], rate["delta"]["value"]) == (1.0, 0.0, -1.0)
    assert rate["verdict"] == "worse"
    assert bad["flips"] == {"worse": N, "better": 0}
    assert [f["id"] for f in bad["flipped"]] == [f"c{i:02d}" for i in range(N)]
    assert {(f["from"], f["to"]) for f in bad["flipped"]} == {("passed", "failed")}

    copy = ab_of(report, "ab@copy")
    assert copy["decision"] == "inconclusive"
    assert copy["metrics"]["pass_rate"]["p_value"] == 1.0
    assert copy["flips"] == {"worse": 0, "better": 0} and copy["flipped"] == []
    assert copy["same_outputs"] == N and copy["prompt_version"] == copy["reference_prompt_version"]

    reference = ab_of(report, "ab@good")
    assert reference["decision"] == "reference" and reference["candidates"] == ["bad", "copy"]

    case = next(c for c in report["cases"] if c["suite"] == "ab@bad")
    assert (case["prompt_variant"], case["prompt_reference"], case["prompt_suite"]) == ("bad", "good", "ab")
    assert case["input"] == [{"role": "user", "content": "Say nothing useful."}]
    out = result.stdout.str()
    assert "A/B ab@bad vs good: WORSE" in out and "A/B ab@copy vs good: INCONCLUSIVE" in out


def test_item_ids_name_the_model_and_variant(project: LlmProject) -> None:
    ab_project(project, AB_HEAD, n=2)
    result = project.run("--llm-model=echo:m", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["ab.eval.yaml::c00[[]m-good[]]", "ab.eval.yaml::c01[[]m-good[]]",
                                 "ab.eval.yaml::c00[[]m-copy[]]", "*ab.eval.yaml::c01[[]m-bad[]]", "6 tests collected*"])


def test_ab_reference_picks_the_reference_and_variants_share_generations(project: LlmProject, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "echo.log"
    monkeypatch.setenv("LLMOPS_ECHO_LOG", str(log))
    ab_project(project, AB_HEAD + "ab_reference: bad\n")
    assert project.run("--llm-model=echo:m", "-p", "no:cacheprovider").ret == pytest.ExitCode.TESTS_FAILED
    report = project.report()
    good = ab_of(report, "ab@good")
    assert good["reference"] == "bad" and good["decision"] == "better"
    assert good["metrics"]["pass_rate"]["verdict"] == "better"
    assert ab_of(report, "ab@bad")["decision"] == "reference"
    # The identical copy renders the same requests as good: one generation each, in one prefetch.
    assert len(log.read_text().splitlines()) == N + 1


def test_system_prompt_variants_reach_the_request(project: LlmProject) -> None:
    project.suite("sys", "system_prompts:\n  polite: Answer politely.\n  terse: Answer in one word.\n" + cases_yaml(3))
    assert project.run("--llm-model=echo:m", "-p", "no:cacheprovider").ret == pytest.ExitCode.OK
    report = project.report()
    terse = next(c for c in report["cases"] if c["suite"] == "sys@terse")
    assert terse["input"][0] == {"role": "system", "content": "Answer in one word."}
    assert terse["prompt_version"] != next(c for c in report["cases"] if c["suite"] == "sys@polite")["prompt_version"]
    # The echo provider ignores system prompts: same answers, nothing to tell apart.
    ab = ab_of(report, "sys@terse")
    assert ab["decision"] == "inconclusive" and ab["same_outputs"] == 3


def test_a_suite_without_variants_is_unchanged(project: LlmProject) -> None:
    project.write("prompts/good.txt", GOOD)
    project.suite("plain", "subject: prompt\nprompt: prompts/good.txt\n" + cases_yaml(2))
    assert project.run("--llm-model=echo:m", "-p", "no:cacheprovider").ret == pytest.ExitCode.OK
    report = project.report()
    assert list(report["suites"]) == ["plain"] and "ab" not in report["suites"]["plain"]["metrics"]
    assert not any(key.startswith("prompt_variant") or key in ("prompt_reference", "prompt_suite")
                   for case in report["cases"] for key in case)


# -- the command line ------------------------------------------------------------------------


def test_cli_variant_is_compared_with_each_prompt_suite(project: LlmProject) -> None:
    project.write("prompts/good.txt", GOOD)
    project.write("prompts/bad.txt", BAD)
    project.suite("plain", "subject: prompt\nprompt: prompts/good.txt\n" + cases_yaml())
    project.suite("model", "suite: by_model\n" + cases_yaml(2))  # answered by the model: left alone
    result = project.run("--llm-model=echo:m", "--llm-prompt-variant", "terse=prompts/bad.txt", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = project.report()
    assert set(report["suites"]) == {"plain@base", "plain@terse", "by_model"}
    ab = ab_of(report, "plain@terse")
    assert (ab["reference"], ab["decision"]) == ("base", "worse")
    assert ab["metrics"]["pass_rate"]["p_value"] == pytest.approx(mcnemar_p(N, 0), abs=1e-6)


def test_ini_variants_and_a_yaml_variant_list(project: LlmProject) -> None:
    ab_project(project, AB_HEAD)
    project.pytester.makeini("[pytest]\nllm_prompt_variants =\n    again=prompts/bad.txt\n")
    assert project.run("--llm-model=echo:m", "-p", "no:cacheprovider").ret == pytest.ExitCode.TESTS_FAILED
    report = project.report()
    assert set(report["suites"]) == {"ab@good", "ab@copy", "ab@bad", "ab@again"}
    assert ab_of(report, "ab@again")["decision"] == "worse" and ab_of(report, "ab@again")["reference"] == "good"


@pytest.mark.parametrize("args, message", [
    (["--llm-prompt-variant", "noequals"], "expects NAME=PATH"),
    (["--llm-prompt-variant", "a b=prompts/bad.txt"], "must be letters, digits"),
    (["--llm-prompt-variant", "base=prompts/bad.txt"], "names the suite's own template"),
    (["--llm-prompt-variant", "x=prompts/missing.txt"], "template file"),
    (["--llm-prompt-variant", "x=prompts/bad.txt", "--llm-prompt-variant", "x=prompts/good.txt"], "given twice"),
])
def test_bad_cli_variants_are_usage_errors(project: LlmProject, args: list[str], message: str) -> None:
    ab_project(project, AB_HEAD, n=1)
    result = project.run("--llm-model=echo:m", *args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert message in result.stderr.str()


def test_cli_variant_named_like_a_file_variant_errs_that_file(project: LlmProject) -> None:
    ab_project(project, AB_HEAD, n=1)
    result = project.run("--llm-model=echo:m", "--llm-prompt-variant", "bad=prompts/good.txt", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*ab.eval.yaml: --llm-prompt-variant bad=*already has a variant named 'bad'*"])


# -- bad suite files -------------------------------------------------------------------------

BAD_FILES = {
    "both": ("subject: prompt\nprompt: prompts/good.txt\nprompts: {a: prompts/good.txt, b: prompts/bad.txt}\n",
             ":1: field 'prompt': give 'prompt' (one template) or 'prompts'"),
    "one": ("subject: prompt\nprompts:\n  a: prompts/good.txt\n", ":3: field 'prompts': an A/B comparison needs at "
                                                                   "least two variants, got 1"),
    "missing": ("subject: prompt\nprompts:\n  a: prompts/good.txt\n  b: prompts/nope.txt\n",
                ":3: field 'prompts.b': template file"),
    "duplicate": ("subject: prompt\nprompts:\n  a: prompts/good.txt\n  b: prompts/bad.txt\n  a: prompts/bad.txt\n",
                  ":5: field 'prompts.a': duplicate variant name"),
    "subject": ("prompts: {a: prompts/good.txt, b: prompts/bad.txt}\n", "field 'prompts': template variants need "
                                                                        "'subject: prompt'"),
    "mixed": ("subject: prompt\nprompts: {a: prompts/good.txt, b: prompts/bad.txt}\nsystem_prompts: {a: x, b: y}\n",
              "field 'system_prompts': give 'prompts' (templates) or 'system_prompts', not both"),
    "system": ("system: Hi.\nsystem_prompts: {a: x, b: y}\n", "field 'system': the system prompt comes from each"),
    "reference": ("subject: prompt\nprompts: {a: prompts/good.txt, b: prompts/bad.txt}\nab_reference: c\n",
                  "field 'ab_reference': 'c' is not one of the variants ['a', 'b']"),
    "lonely_reference": ("ab_reference: a\n", "field 'ab_reference': names the reference"),
    "name": ("subject: prompt\nprompts: {'a b': prompts/good.txt, b: prompts/bad.txt}\n",
             "field 'prompts.a b': expected a variant name"),
    "list": ("subject: prompt\nprompts: [prompts/good.txt, prompts/bad.txt]\n",
             "field 'prompts': expected a mapping of variant name to template path"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_variant_declarations_name_the_file_line_and_field(project: LlmProject, name: str) -> None:
    head, message = BAD_FILES[name]
    ab_project(project, "")
    project.suite(name, head + cases_yaml(1))
    result = project.run("--llm-model=echo:m", "-p", "no:cacheprovider", f"{name}.eval.yaml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert f"ERROR {name}.eval.yaml::<invalid suite file>" in out
    assert message in out, out


def test_case_system_prompt_in_a_system_variant_suite_is_an_error(project: LlmProject) -> None:
    project.suite("sys", "system_prompts: {a: x, b: y}\ncases:\n  - id: one\n    input: hi\n    system: own\n"
                         "    checks: [{contains: hi}]\n")
    result = project.run("--llm-model=echo:m", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*sys.eval.yaml:3: case 'one' field 'system': the system prompt comes from each*"])


def test_kinds_that_bake_their_prompt_refuse_variants(tmp_path: Path) -> None:
    from pytest_llmops.suites.kinds import SuiteKind
    from pytest_llmops.suites.suite_file import SuiteFileError, load_suite
    from pytest_llmops.providers.base import GenerationParams

    registry = registry_with()  # a registry of its own: default_registry() is shared, and cached
    registry.kinds["baked"] = SuiteKind()  # the base class: variants off unless a kind says otherwise
    (tmp_path / "a.txt").write_text(GOOD)
    suite = tmp_path / "s.eval.yaml"
    suite.write_text("kind: baked\nsubject: prompt\nprompts: {a: a.txt, b: a.txt}\n" + cases_yaml(1))
    with pytest.raises(SuiteFileError, match=r"s.eval.yaml:1: field 'prompts': kind 'baked' does not compare"):
        load_suite(suite, tmp_path, GenerationParams(), registry)
    assert kind_named(registry, "functional").prompt_variants
    assert not any(kind.prompt_variants for name, kind in registry.kinds.items() if name != "functional")


# -- the same comparison however the run was split, and gates on it ---------------------------


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    return without_keys(report["suites"], VOLATILE)


def test_xdist_shards_and_refold_give_the_same_comparison(project: LlmProject) -> None:
    ab_project(project, AB_HEAD)
    project.run("--llm-model=echo:m", "-p", "no:cacheprovider", "--llm-report-dir=plain")
    project.run("--llm-model=echo:m", "-p", "no:cacheprovider", "--llm-report-dir=xdist", "-n", "2")
    plain, xdist = project.report("plain"), project.report("xdist")
    assert _comparable(xdist) == _comparable(plain)
    assert ab_of(plain, "ab@bad")["decision"] == "worse"
    registry = default_registry()
    assert without_keys(refold_suites(plain["cases"], lambda k: kind_named(registry, k)), VOLATILE) == _comparable(plain)
    shards = []
    for index in (1, 2):
        project.run("--llm-model=echo:m", "-p", "no:cacheprovider", f"--llm-shard={index}/2",
                    f"--llm-report-dir=shard{index}")
        shards.append(project.report_path(f"shard{index}"))
        assert 0 < len(project.report(f"shard{index}")["cases"]) < 3 * N  # each shard holds only part of it
    merged = project.path / "merged" / "llmops-report.json"
    merge_reports(shards, merged, lambda k: kind_named(registry, k))
    assert _comparable(json.loads(merged.read_text())) == _comparable(plain)


def test_gates_read_the_decision(project: LlmProject) -> None:
    ab_project(project, AB_HEAD)
    project.write("llmops.yaml", """
        environments:
          dev:
            checks:
              - "ab@*: ab.decision != worse"
              - "ab@bad: ab.metrics.pass_rate.p_holm < 0.05"
    """)
    result = project.run("--llm-model=echo:m", "-p", "no:cacheprovider", "--llm-gate-env=dev")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    gate = project.report()["gate"]
    rows = {(r["check"], r["suite"]): r["status"] for r in gate["checks"]}
    assert gate["decision"] == "BLOCK"
    assert rows[("ab@*: ab.decision != worse", "ab@bad")] == "FAIL"
    assert rows[("ab@*: ab.decision != worse", "ab@good")] == "PASS"  # the reference
    assert rows[("ab@*: ab.decision != worse", "ab@copy")] == "INCONCLUSIVE"  # never a pass
    assert rows[("ab@bad: ab.metrics.pass_rate.p_holm < 0.05", "ab@bad")] == "PASS"


def test_markdown_and_html_show_the_table(project: LlmProject) -> None:
    ab_project(project, AB_HEAD)
    project.run("--llm-model=echo:m", "-p", "no:cacheprovider")
    markdown = (project.path / "reports" / "llmops-report.md").read_text()
    table = markdown.split("### Prompt A/B: variants vs reference", 1)[1].split("\n\n")[1].splitlines()
    assert len(table) == 4  # head, rule, two candidates with one metric each
    assert "bad vs good (**worse**)" in table[2] and "c00 \u2193" in table[2] and r"\(+5 more\)" in table[2]
    assert "copy vs good (**inconclusive**)" in table[3] and "| none |" in table[3]
    html = (project.path / "reports" / "llmops-report.html").read_text()
    assert '<table id="prompt-ab">' in html and "bad vs good (<b>worse</b>)" in html
    shown = summary_table(project.report())  # llmops show
    assert "A/B ab@bad vs good: WORSE" in shown and "A/B ab@copy vs good: INCONCLUSIVE" in shown
