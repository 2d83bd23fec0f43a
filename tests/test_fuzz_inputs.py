"""Fuzzed gate files, model specs, baseline files and report files: each either works or fails
with the error written for it, naming the file (or the spec), never another exception.

1,000 seeded inputs per surface in CI (``LLMOPS_FUZZ_EXAMPLES``, ``LLMOPS_FUZZ_SEEDED=0`` for
fresh seeds: the longer run is a benchmark, see ``benchmarks/README.md``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_tree import replaced, tree_paths
from llmops_testutils import ECHO_CONFTEST
from pytest_llmops.cli import main as llmops_main
from pytest_llmops.core.baseline import BaselineError, BaselineStore
from pytest_llmops.core.specs import SpecError, parse_spec
from pytest_llmops.gates.config import GateConfigError, load_gate_config
from pytest_llmops.gates.evaluate import evaluate_gate
from pytest_llmops.suites.builtins import default_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("LLMOPS_FUZZ_EXAMPLES", "1000"))
SEEDED = os.environ.get("LLMOPS_FUZZ_SEEDED", "1") != "0"
FUZZ = settings(max_examples=EXAMPLES, derandomize=SEEDED, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["", "*", "nan", "inconclusive", "pass_rate.lb95 >= 0.5", "*: errors == 0", "x" * 3000]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=10)


@st.composite
def mutated(draw: st.DrawFn, data: Any) -> Any:
    """``data`` with one node (anywhere in it) replaced by an arbitrary value."""
    return replaced(data, draw(st.sampled_from(tree_paths(data))), draw(values))


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """``text`` cut short or with junk spliced in."""
    at = draw(st.integers(0, len(text)))
    return text[:at] if draw(st.booleans()) else text[:at] + draw(st.text(max_size=20)) + text[at:]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real report and a real baseline, from an echo run of a small regression and functional suite."""
    root = tmp_path_factory.mktemp("made")
    (root / "conftest.py").write_text(ECHO_CONFTEST)
    (root / "golden.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "input": f"say token{i}",
                                                            "expected": f"token{i}"}) + "\n" for i in range(6)))
    (root / "qa.eval.yaml").write_text("kind: regression\ndataset: golden.jsonl\nmetrics: [contains, token_f1]\n")
    (root / "fn.eval.yaml").write_text(textwrap.dedent("""
        cases:
          - {id: a, input: hello, checks: [{contains: hello}]}
          - {id: b, input: bye, checks: [{contains: nope}]}
    """))
    subprocess.run([sys.executable, "-m", "pytest", "--llm-model=echo:a", "--llm-update-baseline", "-p",
                    "no:cacheprovider", "-q"], cwd=root, capture_output=True, check=False)
    assert (root / "reports" / "llmops-report.json").is_file() and (root / "reports" / "baseline" / "qa.json").is_file()
    return root


# -- gate files --------------------------------------------------------------------------------
GATE = yaml.safe_load((ROOT / "llmops.yaml").read_text(encoding="utf-8"))


@FUZZ
@given(gate=st.one_of(mutated(GATE), mutated_text(yaml.safe_dump(GATE))))
def test_a_mutated_gate_file_loads_or_names_the_file(gate: Any, made: Path, tmp_path: Path) -> None:
    path = tmp_path / "llmops.yaml"
    path.write_text(gate if isinstance(gate, str) else yaml.safe_dump(gate, allow_unicode=True), encoding="utf-8")
    try:
        config = load_gate_config(tmp_path, path)
    except GateConfigError as exc:
        assert "llmops.yaml" in str(exc)
        return
    report = json.loads((made / "reports" / "llmops-report.json").read_text())
    for env in config.environments:
        assert evaluate_gate(report, config, env).decision in ("ALLOW", "BLOCK")


# -- model specs -------------------------------------------------------------------------------
spec_text = st.one_of(
    st.text(max_size=60),
    st.builds(lambda provider, target, options: f"{provider}:{target}?{options}",
              st.sampled_from(["hf", "smollm2", "openai", "fault", "echo", "nope", ""]),
              st.text(max_size=30), st.text(max_size=40)),
    st.builds(lambda key, value: f"smollm2?{key}={value}",
              st.sampled_from(["dtype", "device", "batch_size", "chat_template", "alias", "gguf", "x"]),
              st.text(max_size=12)),
    st.builds(lambda op, rate: f"fault:{op}?rate={rate}&inner=smollm2",
              st.sampled_from(["scramble", "negation", "empty", "nope"]), st.text(max_size=8)),
)


@FUZZ
@given(text=spec_text)
def test_a_fuzzed_model_spec_parses_and_validates_or_says_why(text: str) -> None:
    registry = default_registry()
    try:
        registry.validate_spec(parse_spec(text))
    except SpecError as exc:
        assert "spec" in str(exc) and str(exc).strip()


# -- baseline files ----------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_a_mutated_baseline_file_loads_or_names_the_file(data: st.DataObject, made: Path, tmp_path: Path) -> None:
    text = (made / "reports" / "baseline" / "qa.json").read_text(encoding="utf-8")
    broken = data.draw(st.one_of(mutated(json.loads(text)).map(lambda d: json.dumps(d, allow_nan=True)),
                                 mutated_text(text)))
    (tmp_path / "qa.json").write_text(broken, encoding="utf-8")
    try:
        found = BaselineStore(tmp_path).for_suite("qa")
    except BaselineError as exc:
        assert "qa.json" in str(exc)
        return
    assert isinstance(found, dict) and isinstance(found.get("cases"), dict)


# -- report files given to llmops --------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_llmops_commands_on_a_mutated_report_never_raise(data: st.DataObject, made: Path, tmp_path: Path) -> None:
    text = (made / "reports" / "llmops-report.json").read_text(encoding="utf-8")
    broken = data.draw(st.one_of(mutated(json.loads(text)).map(lambda d: json.dumps(d, allow_nan=True)),
                                 mutated_text(text)))
    path = tmp_path / "report.json"
    path.write_text(broken, encoding="utf-8")
    command = data.draw(st.sampled_from([
        ["show", str(path)], ["gate", str(path), "--env", "dev", "--config", str(ROOT / "llmops.yaml")],
        ["report", str(path), "--out-dir", str(tmp_path / "out")], ["diff", str(made / "reports" / "llmops-report.json"),
                                                            str(path)],
        ["review", "export", str(path), "--pass-share", "1", "-o", str(tmp_path / "review.html")],
        ["review", "import", str(ROOT / "fixtures" / "review" / "smollm2-labels.jsonl"), "--report", str(path),
         "-o", str(tmp_path / "reviewed.json")]]))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = llmops_main(command)
    assert status in (0, 1, 2)
    if status == 2:
        assert "report.json" in err.getvalue(), err.getvalue()
