"""Human review without a browser: kappa, the sample, label files, the sections and the gates on them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.cli import main as llmops
from pytest_llmops.gates import evaluate_gate, parse_gate_config
from pytest_llmops.integrations.github.comment import build_comment_body
from pytest_llmops.report.diff import diff_reports
from pytest_llmops.report.html import render_html
from pytest_llmops.report.markdown import render_markdown
from pytest_llmops.review.cases import KEY_FIELDS, automatic_verdicts, case_key, output_sha256
from pytest_llmops.review.export import render_csv, render_jsonl, review_items
from pytest_llmops.review.kappa import cohen_kappa, cohen_kappa_metric, fleiss_kappa
from pytest_llmops.review.labels import read_label_file
from pytest_llmops.review.sample import FAILED, FLIP, SAMPLED, SampleSettings, sample_cases
from pytest_llmops.review.section import review_sections

FINGERPRINT = "f" * 64


# --------------------------------------------------------------------------- kappa


def test_cohen_kappa_matches_the_textbook_example() -> None:
    # Cohen's worked example as in most texts: 50 items, 20 yes/yes, 15 no/no, 5 yes/no, 10 no/yes.
    first = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    # p_o = 0.7; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.4
    assert cohen_kappa(first, second) == pytest.approx(0.4)


def test_cohen_kappa_is_undefined_when_both_raters_use_one_label() -> None:
    assert cohen_kappa(["pass"] * 5, ["pass"] * 5) is None
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError, match="different numbers"):
        cohen_kappa(["a"], ["a", "b"])


def test_fleiss_kappa_matches_the_published_worked_example() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories; kappa = 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = [[category for category, times in enumerate(row) for _ in range(times)] for row in counts]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=0.0005)


def test_fleiss_kappa_equals_cohen_free_marginal_for_two_raters_in_agreement() -> None:
    ratings = [["p", "p"], ["f", "f"], ["p", "p"], ["f", "f"]]
    assert fleiss_kappa(ratings) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([["p", "p"], ["p"]])


def test_the_kappa_interval_holds_the_value_and_is_reproducible() -> None:
    first = [i % 3 != 0 for i in range(60)]
    second = [(i % 3 != 0) if i % 7 else (i % 3 == 0) for i in range(60)]
    block = cohen_kappa_metric(first, second)
    low, high = block["ci95"]
    assert low <= block["value"] <= high and high - low < 0.6
    assert cohen_kappa_metric(first, second) == block


# --------------------------------------------------------------------------- a report to review


def _case(suite: str, cid: str, outcome: str, output: str | None, **extra: Any) -> dict[str, Any]:
    return {"suite": suite, "id": cid, "model": "m1", "kind": suite.split("/")[0], "outcome": outcome,
            "output": output, "input": [{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": f"question {cid}"}],
            "checks": [{"name": "contains", "passed": outcome == "passed", "evidence": "x"}], **extra}


def review_report() -> dict[str, Any]:
    cases = [_case("functional/qa", f"p{i}", "passed", f"answer {i}") for i in range(10)]
    cases += [_case("functional/qa", f"f{i}", "failed", f"wrong {i}") for i in range(3)]
    cases.append(_case("functional/qa", "err", "error", None))
    cases.append(_case("regression/golden", "flip", "passed", "new answer",
                       regression={"passed": {"token_f1": True, "deepeval:GEval": False},
                                   "flips": {"token_f1": "improved"},
                                   "baseline": {"output": "old answer"}}))
    cases += [_case("regression/golden", f"r{i}", "passed", f"same {i}",
                    regression={"passed": {"token_f1": True, "deepeval:GEval": True}, "flips": {}})
              for i in range(4)]
    cases.append(_case("latency/chat", "short", "passed", "fast"))
    suites = {name: {"kind": name.split("/")[0], "model": "m1", "n": sum(c["suite"] == name for c in cases),
                     "passed": 0, "failed": 0, "errors": 0, "metrics": {}}
              for name in ("functional/qa", "regression/golden", "latency/chat")}
    return {"schema_version": 1, "run": {"models": [{"alias": "m1", "fingerprint": FINGERPRINT}], "git_sha": "abc"},
            "suites": suites, "cases": cases}


def test_the_sample_has_every_failure_every_flip_and_a_seeded_share_of_passes() -> None:
    report = review_report()
    chosen = sample_cases(report, SampleSettings(pass_share=0.3, seed=1))
    reasons = [(record["id"], reason) for record, reason in chosen]
    assert [cid for cid, reason in reasons if reason == FAILED] == ["f0", "f1", "f2"]
    assert [cid for cid, reason in reasons if reason == FLIP] == ["flip"]
    sampled = [cid for cid, reason in reasons if reason == SAMPLED]
    assert len([c for c in sampled if c.startswith("p")]) == 3  # ceil(0.3 * 10)
    assert len([c for c in sampled if c.startswith("r")]) == 2  # ceil(0.3 * 4)
    assert "err" not in dict(reasons) and "short" not in dict(reasons)  # infra errors, latency: not reviewable
    assert chosen == sample_cases(report, SampleSettings(pass_share=0.3, seed=1))
    other_seeds = {tuple(r["id"] for r, why in sample_cases(report, SampleSettings(pass_share=0.3, seed=s))
                         if why == SAMPLED) for s in range(6)}
    assert len(other_seeds) > 1
    capped = sample_cases(report, SampleSettings(pass_share=1.0, max_passes_per_suite=1))
    assert sum(why == SAMPLED for _, why in capped) == 2
    with pytest.raises(ValueError, match="between 0 and 1"):
        SampleSettings(pass_share=1.5)


def test_a_suite_added_elsewhere_does_not_change_another_suites_sample() -> None:
    report = review_report()
    before = [r["id"] for r, _ in sample_cases(report, SampleSettings(pass_share=0.5)) if r["suite"] == "functional/qa"]
    report["cases"] = [_case("functional/aaa", f"x{i}", "passed", "x") for i in range(7)] + report["cases"]
    report["suites"]["functional/aaa"] = {"n": 7}
    after = [r["id"] for r, _ in sample_cases(report, SampleSettings(pass_share=0.5)) if r["suite"] == "functional/qa"]
    assert before == after


def test_a_review_item_shows_what_a_reviewer_needs() -> None:
    report = review_report()
    items = {item["key"]["case"]: item for item in review_items(report, SampleSettings(pass_share=1.0))}
    flip = items["flip"]
    assert flip["system"] == "Be brief." and flip["messages"] == [{"role": "user", "content": "question flip"}]
    assert flip["baseline_output"] == "old answer" and flip["flips"] == {"token_f1": "improved"}
    assert flip["verdicts"] == {"outcome": True, "check:contains": True, "metric:token_f1": True,
                                "metric:deepeval:GEval": False}
    assert flip["key"] == {"suite": "regression/golden", "case": "flip", "model": "m1", "fingerprint": FINGERPRINT,
                           "output_sha256": output_sha256("new answer")}
    assert items["f0"]["evidence"] == ["contains: x"]
    lines = render_jsonl(list(items.values())).splitlines()
    assert json.loads(lines[0])["label"] == "" and set(KEY_FIELDS) <= set(json.loads(lines[0]))
    assert render_csv(list(items.values())).splitlines()[0].startswith("suite,case,model,fingerprint,output_sha256")


# --------------------------------------------------------------------------- labels


def _label_line(report: dict[str, Any], cid: str, label: str, reviewer: str, **extra: Any) -> str:
    record = next(c for c in report["cases"] if c["id"] == cid)
    return json.dumps({**case_key(record, report), "label": label, "reviewer": reviewer, **extra})


def test_bad_label_lines_are_named_and_the_good_ones_kept(tmp_path: Path) -> None:
    report = review_report()
    path = tmp_path / "alice.jsonl"
    path.write_text("\n".join([_label_line(report, "p0", "pass", "alice"), "{not json",
                               json.dumps({"suite": "functional/qa"}),
                               _label_line(report, "p1", "maybe", "alice"),
                               _label_line(report, "p2", "FAIL", "")]) + "\n", encoding="utf-8")
    found = read_label_file(path)
    assert [label.key[1] for label in found.labels] == ["p0"]
    assert found.errors[0].startswith(f"{path}:2: not valid JSON")
    assert f"{path}:3: missing or empty key field(s) case, model, fingerprint, output_sha256" in found.errors[1]
    assert f"{path}:4: label must be one of pass, fail, unsure, got 'maybe'" in found.errors[2]
    assert f"{path}:5: no reviewer" in found.errors[3]
    assert [label.label for label in read_label_file(path, default_reviewer="bob").labels] == ["pass", "fail"]


def test_a_spreadsheet_csv_is_read_and_blank_rows_are_not_errors(tmp_path: Path) -> None:
    report = review_report()
    items = review_items(report, SampleSettings(pass_share=0.0))
    rows = list(csv.DictReader(io.StringIO(render_csv(items))))
    rows[0].update(label="fail", note="too short", reviewer="carol")  # as a spreadsheet would save it
    path = tmp_path / "sheet.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    found = read_label_file(path)
    assert not found.errors and found.skipped_blank == len(items) - 1
    [label] = found.labels
    assert (label.label, label.note, label.reviewer) == ("fail", "too short", "carol")
    (tmp_path / "bad.csv").write_text("suite,label\nx,pass\n", encoding="utf-8")
    assert "the header lacks column(s) case, model, fingerprint, output_sha256" in read_label_file(
        tmp_path / "bad.csv").errors[0]


# --------------------------------------------------------------------------- sections and gates


def labels_for(report: dict[str, Any], tmp_path: Path, verdicts: dict[str, dict[str, str]]) -> list[Path]:
    paths = []
    for reviewer, by_case in verdicts.items():
        path = tmp_path / f"{reviewer}.jsonl"
        path.write_text("".join(_label_line(report, cid, label, reviewer) + "\n" for cid, label in by_case.items()),
                        encoding="utf-8")
        paths.append(path)
    return paths


def _labels(paths: list[Path]) -> list[Any]:
    return [label for path in paths for label in read_label_file(path).labels]


def test_sections_count_coverage_human_pass_rate_and_false_passes(tmp_path: Path) -> None:
    report = review_report()
    # The humans reject two answers the checks passed (p0, p1) and accept one they failed (f0).
    alice = {"p0": "fail", "p1": "fail", "p2": "pass", "p3": "pass", "f0": "pass", "f1": "fail", "f2": "fail"}
    sections, stale, applied = review_sections(report, _labels(labels_for(report, tmp_path, {"alice": alice})))
    qa = sections["functional/qa"]
    assert qa["coverage"] == {"value": round(7 / 13, 6), "labelled": 7, "cases": 13}
    assert qa["human_pass_rate"]["value"] == pytest.approx(3 / 7)
    assert qa["false_pass_rate"]["value"] == pytest.approx(2 / 4) and qa["false_pass_rate"]["n"] == 4
    assert qa["false_fail_rate"]["value"] == pytest.approx(1 / 3) and qa["false_fail_rate"]["n"] == 3
    assert set(qa["agreement"]) == {"outcome", "check:contains"}
    assert qa["reviewer_agreement"] is None and not stale and len(applied) == 7
    assert sections["regression/golden"]["coverage"]["labelled"] == 0
    assert "latency/chat" not in sections


def test_two_reviewers_get_cohens_kappa_and_three_get_fleiss(tmp_path: Path) -> None:
    report = review_report()
    first = {f"p{i}": "pass" if i < 6 else "fail" for i in range(10)}
    second = {f"p{i}": "pass" if i < 5 or i == 9 else "fail" for i in range(10)}
    two, _, _ = review_sections(report, _labels(labels_for(report, tmp_path, {"a": first, "b": second})))
    agreement = two["functional/qa"]["reviewer_agreement"]
    assert agreement["method"] == "cohen"
    assert agreement["value"] == pytest.approx(cohen_kappa(list(first.values()), list(second.values())))
    assert agreement["observed_agreement"]["value"] == pytest.approx(0.8)
    assert two["functional/qa"]["undecided_disputed"] == 2  # p5 and p9: one pass, one fail
    three, _, _ = review_sections(report, _labels(labels_for(report, tmp_path,
                                                             {"a": first, "b": second, "c": first})))
    assert three["functional/qa"]["reviewer_agreement"]["method"] == "fleiss"
    assert three["functional/qa"]["undecided_disputed"] == 0  # majority of three


def test_judge_verdicts_are_measured_as_judges(tmp_path: Path) -> None:
    report = review_report()
    verdicts = {"flip": "fail", "r0": "pass", "r1": "pass", "r2": "fail"}
    sections, _, _ = review_sections(report, _labels(labels_for(report, tmp_path, {"alice": verdicts})))
    golden = sections["regression/golden"]["agreement"]
    assert golden["metric:deepeval:GEval"]["judge"] is True and golden["metric:token_f1"]["judge"] is False
    assert golden["metric:deepeval:GEval"]["false_pass_rate"]["value"] == pytest.approx(1 / 2)  # r2 passed, flip not


def test_labels_for_another_output_or_checkpoint_are_stale_not_applied(tmp_path: Path) -> None:
    report = review_report()
    paths = labels_for(report, tmp_path, {"alice": {"p0": "fail", "p1": "pass", "p2": "pass"}})
    changed = next(c for c in report["cases"] if c["id"] == "p0")
    changed["output"] = "a different answer"
    report["cases"] = [c for c in report["cases"] if c["id"] != "p1"]
    report["run"]["models"][0]["fingerprint"] = FINGERPRINT  # unchanged here
    sections, stale, applied = review_sections(report, _labels(paths))
    whys = {entry["case"]: entry["why"] for entry in stale}
    assert whys == {"p0": "the output changed since it was labelled", "p1": "no such case in this report"}
    assert [label.key[1] for label in applied] == ["p2"]
    assert sections["functional/qa"]["stale_labels"] == 2
    report["run"]["models"][0]["fingerprint"] = "e" * 64
    _, stale, applied = review_sections(report, _labels(paths))
    assert not applied and "fingerprint changed" in {e["case"]: e["why"] for e in stale}["p2"]


def test_import_writes_sections_that_gates_reports_and_diffs_use(tmp_path: Path, capsys: Any) -> None:
    report = review_report()
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    alice = {"p0": "fail", "p1": "pass", "p2": "pass", "f0": "fail", "f1": "fail"}
    [labels] = labels_for(report, tmp_path, {"alice": alice})
    (tmp_path / "broken.jsonl").write_text("nonsense\n", encoding="utf-8")
    assert llmops(["review", "import", str(labels), str(tmp_path / "broken.jsonl"), "--report", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'broken.jsonl'}:1: not valid JSON" in err
    written = json.loads(path.read_text(encoding="utf-8"))
    qa = written["suites"]["functional/qa"]["human_review"]
    assert qa["coverage"]["labelled"] == 5 and written["human_review"]["applied"] == 5
    # A second import of the same file adds nothing; another reviewer adds to the first.
    assert llmops(["review", "import", str(labels), "--report", str(path)]) == 0
    assert json.loads(path.read_text(encoding="utf-8"))["human_review"]["applied"] == 5
    [bob] = labels_for(report, tmp_path, {"bob": {"p0": "fail", "p1": "fail"}})
    assert llmops(["review", "import", str(bob), "--report", str(path)]) == 0
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["suites"]["functional/qa"]["human_review"]["reviewers"] == ["alice", "bob"]

    config = parse_gate_config({"environments": {"prod": {"checks": [
        "functional/*: human_review.coverage >= 0.3", "functional/*: human_review.false_pass_rate.ub95 <= 0.99"]}}},
        "test")
    rows = {row["check"]: row for row in evaluate_gate(written, config, "prod").checks}
    assert rows["functional/*: human_review.coverage >= 0.3"]["status"] == "PASS"
    assert rows["functional/*: human_review.false_pass_rate.ub95 <= 0.99"]["status"] == "PASS"
    strict = parse_gate_config({"environments": {"prod": {"checks": [
        "functional/*: human_review.coverage >= 0.9", "*: human_review.false_pass_rate.ub95 <= 0.1"]}}}, "test")
    result = evaluate_gate(written, strict, "prod")
    assert result.decision == "BLOCK"
    statuses = {(row["suite"], row["check"]): row["status"] for row in result.checks}
    assert statuses[("functional/qa", "functional/*: human_review.coverage >= 0.9")] == "FAIL"
    assert statuses[("functional/qa", "*: human_review.false_pass_rate.ub95 <= 0.1")] == "FAIL"
    # regression/golden has a section but no label: no data, not a pass.
    assert statuses[("regression/golden", "*: human_review.false_pass_rate.ub95 <= 0.1")] == "INCONCLUSIVE"

    markdown = render_markdown(written)
    assert "### Human review" in markdown and "functional/qa" in markdown.split("### Human review")[1]
    assert "human review: 5/13 (38%) labelled by 2 reviewers" in render_html(written)
    assert "### Human review (head)" in diff_reports(report, written)
    assert "### Human review" in build_comment_body(written, None, None, None, "pointer")


def test_export_cli_writes_each_format_and_rejects_bad_options(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(review_report()), encoding="utf-8")
    for fmt in ("html", "jsonl", "csv"):
        assert llmops(["review", "export", str(path), "--format", fmt, "--pass-share", "0.5"]) == 0
        assert (tmp_path / f"llmops-review.{fmt}").stat().st_size > 0
    assert "cases (3 failed, 1 regression flip, 7 sampled pass)" in capsys.readouterr().out
    assert llmops(["review", "export", str(path), "--pass-share", "2"]) == 2
    assert "pass share must be between 0 and 1" in capsys.readouterr().err
    assert llmops(["review", "export", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read" in capsys.readouterr().err


def test_automatic_verdicts_skip_values_that_are_not_verdicts() -> None:
    record = {"outcome": "failed", "checks": [{"name": "a", "passed": None}, "junk", {"name": "b", "passed": False}],
              "regression": {"passed": {"m": "yes"}}}
    assert automatic_verdicts(record) == {"outcome": False, "check:b": False}
