"""Bias slices end to end (docs/slices.md): any suite sliced by a record field (case metadata,
tags, a fairness perturbation's group) through the suite file's ``slices:`` or ``--llm-slice``,
gated on the gap, and the same after a refold of the report's records or a merge of shards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from llmops_testutils import LlmProject

from pytest_llmops.cli import main as llmops
from pytest_llmops.core.slices import parse_slice, slice_labels
from pytest_llmops.gates import evaluate_gate, parse_gate_config
from pytest_llmops.report.diff import diff_reports
from pytest_llmops.report.refold import refold_suites
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.kinds import kind_named


def segment_suite(free: tuple[int, int], pro: tuple[int, int], slices: str = "[metadata.segment, tags]") -> str:
    """A functional suite whose cases carry ``metadata.segment``; ``(passed, n)`` per segment.

    The echo provider repeats its input, so a case passes when its input contains 'ok'. Every
    third case also has the tag ``long`` besides ``smoke``."""
    lines = ["suite: seg", f"slices: {slices}" if slices else "", "cases:"]
    index = 0
    for segment, (passed, n) in (("free", free), ("pro", pro)):
        for i in range(n):
            word = "ok" if i < passed else "bad"
            tags = "[smoke, long]" if index % 3 == 0 else "[smoke]"
            lines += [f"  - id: {segment}{i:03d}", f"    input: answer {word} {i}", "    checks: [{contains: ok}]",
                      f"    metadata: {{segment: {segment}, plan_id: {i}}}", f"    tags: {tags}"]
            index += 1
    lines += ["  - id: nometa", "    input: answer ok", "    checks: [{contains: ok}]"]
    return "\n".join(lines) + "\n"


def test_naming_rule_and_labels() -> None:
    assert parse_slice("metadata.segment") == ("segment", "metadata.segment")
    assert parse_slice("plan=metadata.segment") == ("plan", "metadata.segment")
    assert parse_slice(" tags ") == ("tags", "tags")
    for bad in ("", "metadata..segment", "a b", "x=", "na me=tags", 3):
        with pytest.raises(ValueError):
            parse_slice(bad)
    record = {"tags": ["a", "b", "a"], "metadata": {"segment": "free", "paid": True, "nested": {"x": 1}}, "n": 3}
    assert slice_labels(record, "tags") == ["a", "b"]
    assert slice_labels(record, "metadata.segment") == ["free"]
    assert slice_labels(record, "metadata.paid") == ["true"]
    assert slice_labels(record, "n") == ["3"]
    assert slice_labels(record, "metadata.nested") == [] and slice_labels(record, "metadata.missing") == []


def test_suite_sliced_by_metadata_and_tags_with_a_planted_gap(project: LlmProject) -> None:
    project.suite("seg", segment_suite(free=(45, 60), pro=(57, 60)))
    result = project.run("--llm-model=echo:a")
    result.assert_outcomes(passed=103, failed=18)
    report = project.report()
    slices = report["suites"]["seg"]["metrics"]["slices"]
    segment = slices["segment"]
    assert segment["field"] == "metadata.segment" and segment["missing"] == 1  # 'nometa' has no segment
    assert segment["groups"]["free"]["rate"] == 0.75 and segment["groups"]["free"]["n"] == 60
    assert segment["groups"]["pro"]["rate"] == 0.95 and segment["groups"]["pro"]["n"] == 60
    gap = segment["max_gap"]
    assert gap["between"] == ["pro", "free"] and gap["value"] == pytest.approx(0.2)
    assert 0 < gap["lb95"] < 0.2 < gap["ub95"]  # found: the interval excludes 0
    # tags: a case is in the slice of each of its tags
    tags = slices["tags"]
    assert tags["groups"]["smoke"]["n"] == 120 and tags["groups"]["long"]["n"] == 40 and tags["missing"] == 1
    case = project.cases()["free000[a]"]
    assert case["metadata"] == {"segment": "free", "plan_id": 0}
    assert case["slice_by"] == {"segment": "metadata.segment", "tags": "tags"}
    # the terminal shows one line per sliced suite, the largest gap first
    result.stdout.re_match_lines([r"slices seg: segment gap 0\.20 \[0\.\d\d, 0\.\d\d\] \(pro 0\.95 vs free 0\.75, 2 groups\)"])

    # Markdown and HTML show a small table: the gap, the highest and lowest groups
    markdown = (project.path / "reports" / "llmops-report.md").read_text(encoding="utf-8")
    assert "### Bias slices: the largest gap between groups" in markdown
    # (md_cell escapes brackets and parentheses, so nothing in a cell reads as a link)
    assert (f"| seg | segment \\(metadata.segment\\) | 0.20 \\[{gap['lb95']:.2f}, {gap['ub95']:.2f}\\] \u26a0\ufe0f | "
            "pro 0.95 \\(n=60\\) | free 0.75 \\(n=60\\) | 2 \\(+1 without a value\\) |") in markdown
    html = (project.path / "reports" / "llmops-report.html").read_text(encoding="utf-8")
    assert '<table id="slices">' in html and "<td>segment (metadata.segment)</td>" in html
    assert "<td>pro 0.95 (n=60)</td><td>free 0.75 (n=60)</td>" in html

    # ... and so does `llmops show`
    from pytest_llmops.cli.show import summary_table
    assert any(line.strip().startswith("slices seg: segment gap 0.20") for line in summary_table(report).splitlines())

    # Gates on the gap read the dotted path exactly as the issue writes it.
    config = parse_gate_config({"environments": {"dev": {"checks": [
        "*: slices.segment.max_gap.ub95 <= 0.1", "seg: slices.segment.max_gap.lb95 > 0",
        "seg: slices.segment.groups.free.lb95 >= 0.6"]}}}, "test")
    rows = evaluate_gate(report, config, "dev").checks
    assert [r["status"] for r in rows] == ["FAIL", "PASS", "PASS"]
    assert rows[0]["bound"] == gap["ub95"] and rows[0]["value"] == gap["value"]


def test_equal_segments_are_not_flagged_and_the_gate_allows(project: LlmProject) -> None:
    project.suite("seg", segment_suite(free=(54, 60), pro=(54, 60)))
    project.run("--llm-model=echo:a")
    report = project.report()
    gap = report["suites"]["seg"]["metrics"]["slices"]["segment"]["max_gap"]
    assert gap["value"] == 0 and gap["lb95"] == 0 and gap["ub95"] < 0.15
    config = parse_gate_config({"environments": {"dev": {"checks": ["*: slices.segment.max_gap.lb95 <= 0"]}}}, "t")
    assert evaluate_gate(report, config, "dev").decision == "ALLOW"


def test_run_option_and_ini_slice_every_suite(project: LlmProject) -> None:
    project.suite("seg", segment_suite(free=(5, 6), pro=(6, 6), slices=""))
    project.suite("other", """
        cases:
          - {id: a, input: ok one, checks: [{contains: ok}], metadata: {segment: free}}
          - {id: b, input: bad two, checks: [{contains: ok}], metadata: {segment: pro}}
    """)
    project.run("--llm-model=echo:a", "--llm-slice=metadata.segment", "--llm-slice=kind=tags")
    suites = project.report()["suites"]
    assert set(suites["seg"]["metrics"]["slices"]) == {"segment", "kind"}
    assert suites["other"]["metrics"]["slices"]["segment"]["groups"]["free"]["rate"] == 1.0
    assert suites["other"]["metrics"]["slices"]["kind"]["missing"] == 2  # no tags: counted, not sliced
    project.pytester.makeini("[pytest]\nllm_slices =\n    seg=metadata.segment\n")
    project.run("--llm-model=echo:a")
    assert set(project.report()["suites"]["other"]["metrics"]["slices"]) == {"seg"}


def test_slice_mistakes_name_the_file_or_option(project: LlmProject) -> None:
    project.suite("clash", """
        slices: [metadata.segment, other.segment]
        cases:
          - {id: a, input: ok, checks: [{contains: ok}]}
    """)
    result = project.run("--llm-model=echo:a")
    result.stdout.fnmatch_lines([("*clash.eval.yaml:1: field 'slices': slice name 'segment' stands for both*"
                                  "'metadata.segment' and 'other.segment'*")])
    result = project.run("--llm-model=echo:a", "--llm-slice=metadata..x")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--llm-slice 'metadata..x': *not a dotted record path*"])
    project.suite("clash", """
        slices: [segment=metadata.segment]
        cases:
          - {id: a, input: ok, checks: [{contains: ok}], metadata: {segment: [1]}}
    """)
    result = project.run("--llm-model=echo:a")
    result.stdout.fnmatch_lines(["*clash.eval.yaml:3: case 'a' field 'metadata': expected a mapping*"])


def test_fairness_swaps_report_per_group(project: LlmProject) -> None:
    project.write("lexicon.yaml", """
        names:
          female: [Maria, Aisha, Mei]
          male: [John, Kwame, Wei]
    """)
    project.suite("fair", """
        kind: metamorphic
        lexicon: lexicon.yaml
        relations:
          - family: fairness
            perturbation: swap-names
            relation: normalized-exact
            inputs:
              - {id: n1, text: "Maria asks for a loan."}
              - {id: n2, text: "Aisha asks for a loan."}
              - {id: n3, text: "John asks for a loan."}
          - family: fairness
            perturbation: swap-pronouns
            relation: normalized-exact
            inputs:
              - {id: p1, text: "She asks for a loan."}
              - {id: p2, text: "He asks for a raise."}
              - {id: p3, text: "Nothing to swap."}
    """)
    project.run("--llm-model=echo:a")
    report = project.report()
    cases = project.cases()
    assert cases["swap-names.n1[a]"]["group"] == ["female"] and cases["swap-names.n3[a]"]["group"] == ["male"]
    assert cases["swap-pronouns.p1[a]"]["group"] == ["female"] and cases["swap-pronouns.p2[a]"]["group"] == ["male"]
    assert cases["swap-pronouns.p1[a]"]["followups"][0]["changes"][0]["fairness_group"] == "female"
    assert "group" not in cases["swap-pronouns.p3[a]"]  # a no-op: nothing swapped, no group
    group = report["suites"]["metamorphic/fairness"]["metrics"]["slices"]["group"]
    assert group["field"] == "group"
    # the echo provider repeats the swapped name, so normalized-exact never holds for names
    assert group["groups"]["female"]["n"] == 3 and group["groups"]["male"]["n"] == 2
    # every case passed as a test (violations are measured, not failed) but none held its relation:
    # in a slice a metamorphic case passes only when the relation held
    assert all(c["outcome"] == "passed" and c["violated"] for c in cases.values() if c.get("group"))
    assert group["groups"]["female"]["rate"] == 0.0 and group["groups"]["male"]["rate"] == 0.0
    assert group["max_gap"]["n_pairs"] == 1


def test_slices_refold_merge_and_xdist_like_every_metric(project: LlmProject) -> None:
    project.suite("seg", segment_suite(free=(20, 30), pro=(28, 30)))
    project.run_subprocess("--llm-model=echo:a")
    report = project.report()
    registry = default_registry()
    refolded = refold_suites(report["cases"], lambda name: kind_named(registry, name))
    assert refolded["seg"]["metrics"]["slices"] == report["suites"]["seg"]["metrics"]["slices"]
    assert refolded == report["suites"]
    project.run_subprocess("--llm-model=echo:a", "-n", "2", "--llm-report-dir=xdist")  # workers: the same slices
    assert project.report("xdist")["suites"]["seg"]["metrics"]["slices"] == report["suites"]["seg"]["metrics"]["slices"]
    for index in (1, 2):
        project.run_subprocess("--llm-model=echo:a", f"--llm-shard={index}/2", f"--llm-report-dir=shard{index}")
    shards = [json.loads(project.report_path(f"shard{i}").read_text(encoding="utf-8")) for i in (1, 2)]
    assert all(s["suites"]["seg"]["n"] < report["suites"]["seg"]["n"] for s in shards)  # really split
    merged_path = project.path / "merged" / "llmops-report.json"
    assert llmops(["merge", *(str(project.report_path(f"shard{i}")) for i in (1, 2)), "-o", str(merged_path),
                   "--no-render"]) == 0
    merged = json.loads(Path(merged_path).read_text(encoding="utf-8"))
    assert merged["suites"]["seg"]["metrics"]["slices"] == report["suites"]["seg"]["metrics"]["slices"]


def test_shipped_fairness_suite_slices_by_gender(project: LlmProject) -> None:
    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "evalsuites" / "metamorphic", project.path / "evalsuites" / "metamorphic")
    shutil.copytree(root / "fixtures" / "metamorphic", project.path / "fixtures" / "metamorphic")
    project.run("--llm-model=echo:a", "evalsuites/metamorphic/model.eval.yaml", "-k", "fairness")
    suites = project.report()["suites"]
    groups = [c.get("group") for c in project.report()["cases"] if c["suite"] == "metamorphic/fairness"]
    assert groups.count(["female"]) == 14 and groups.count(["male"]) == 14
    sliced = suites["metamorphic/fairness"]["metrics"]["slices"]["group"]
    assert sliced["field"] == "group" and sliced["max_gap"]["method"].startswith("newcombe")
    assert set(suites["metamorphic/fairness-location"]["metrics"]["slices"]["group"]["groups"]) <= {"cities"}


def test_diff_lists_a_widened_gap(project: LlmProject) -> None:
    project.suite("seg", segment_suite(free=(57, 60), pro=(57, 60)))
    project.run("--llm-model=echo:a", "--llm-report-dir=base")
    project.suite("seg", segment_suite(free=(30, 60), pro=(57, 60)))
    project.run("--llm-model=echo:a", "--llm-report-dir=head")
    text = diff_reports(project.report("base"), project.report("head"))
    line = next(line for line in text.splitlines() if "slices.segment.max\\_gap" in line)  # md-escaped
    assert "0.000" in line and "0.450" in line, line
    assert line.endswith("worse |"), line  # a larger gap is worse


def test_history_keeps_each_gap_and_the_html_charts_its_trend(project: LlmProject) -> None:
    project.suite("seg", segment_suite(free=(57, 60), pro=(57, 60)))
    project.run("--llm-model=echo:a", "--llm-history")
    project.suite("seg", segment_suite(free=(30, 60), pro=(57, 60)))
    project.run("--llm-model=echo:a", "--llm-history")
    lines = (project.path / "reports" / "history.jsonl").read_text(encoding="utf-8").splitlines()
    gaps = [json.loads(line)["suites"]["seg"]["slices.segment.max_gap"] for line in lines]
    assert gaps == [0.0, 0.45]
    html = (project.path / "reports" / "llmops-report.html").read_text(encoding="utf-8")
    assert "Largest slice gap over the last 2 runs" in html and "seg \u00b7 slices.segment.max_gap" in html


def test_a_kind_that_slices_its_own_way_keeps_its_slices() -> None:
    """A kind's aggregator may report ``slices`` itself (the drift kind slices per window): its
    entries win over the generic fold's of the same name; other names are kept."""
    from pytest_llmops.report.json_report import SuiteTotals
    from pytest_llmops.report.slices import SliceFold

    class Own:
        def add(self, record):
            pass

        def metrics(self):
            return {"slices": {"segment": {"field": "metadata.segment", "window": "current"}}}

    totals = SuiteTotals(kind="x", model="m", aggregator=Own(), slices=SliceFold())
    totals.slices.add({"outcome": "passed", "slice_by": {"segment": "metadata.segment", "tags": "tags"},
                       "tags": ["a"]})
    slices = totals.as_dict()["metrics"]["slices"]
    assert slices["segment"] == {"field": "metadata.segment", "window": "current"}
    assert slices["tags"]["groups"]["a"]["n"] == 1
