"""Fuzzed suite files: mutated copies of every shipped suite either load or fail with a
``SuiteFileError`` that names the file, never another exception; and a broken file never
stops the other suite files of the run.

Seeds are fixed (``derandomize``) so CI sees the same 1,000 inputs every time. A longer run
with fresh seeds is the benchmark ``LLMOPS_FUZZ_EXAMPLES=20000 LLMOPS_FUZZ_SEEDED=0 pytest
tests/test_fuzz_suites.py`` (``benchmarks/README.md``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_tree import replaced, tree_paths
from llmops_testutils import LlmProject
from pytest_llmops.providers.base import GenerationParams
from pytest_llmops.suites.builtins import default_registry
from pytest_llmops.suites.suite_file import SuiteFileError, load_suite

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "evalsuites").rglob("*.eval.yaml"))
EXAMPLES = int(os.environ.get("LLMOPS_FUZZ_EXAMPLES", "1000"))
SEEDED = os.environ.get("LLMOPS_FUZZ_SEEDED", "1") != "0"

# Values a careless edit (or a hostile file) puts where something else was expected.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=5000),  # huge and unicode
    st.sampled_from(["", "0", "-1", "1e309", "nan", "~", "../../../../etc/passwd", "x" * 5000,
                     "a/" * 3000, "{{ nope", "functional", "regression", "contains", "*"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=12), st.integers(), st.booleans()), inner, max_size=4)),
    max_leaves=12)


@st.composite
def mutated_suites(draw: st.DrawFn) -> tuple[Path, str]:
    """A shipped suite file with one node replaced, a key dropped or duplicated, or its text cut."""
    source = draw(st.sampled_from(SHIPPED))
    text = source.read_text(encoding="utf-8")
    how = draw(st.sampled_from(["replace", "replace", "replace", "drop", "cut", "splice", "anchor"]))
    if how == "cut":
        return source, text[: draw(st.integers(0, len(text)))]
    if how == "splice":
        at = draw(st.integers(0, len(text)))
        return source, text[:at] + draw(st.text(max_size=30)) + text[at:]
    if how == "anchor":  # YAML aliases: a billion-laughs style blow-up must stay bounded
        return source, "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n" \
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\ncases: [*c, *c]\n" + text
    data = yaml.safe_load(text)
    path = draw(st.sampled_from(tree_paths(data)))
    if how == "drop" and path and isinstance(data, dict):
        parent = replaced(data, (), data)
        node = parent
        for key in path[:-1]:
            node = node[key]
        if isinstance(node, dict):
            node.pop(path[-1], None)
        elif isinstance(node, list) and node:
            node.pop(path[-1])
        return source, yaml.safe_dump(parent, sort_keys=False, allow_unicode=True)
    mutated = replaced(data, path, draw(values))
    try:
        return source, yaml.safe_dump(mutated, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return source, text


@pytest.fixture(scope="module")
def registry() -> Any:
    return default_registry()


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped suites and their data in a scratch root, so templates and datasets resolve."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "evalsuites", root / "evalsuites")
    shutil.copytree(ROOT / "fixtures", root / "fixtures")
    return root


@settings(max_examples=EXAMPLES, derandomize=SEEDED, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(case=mutated_suites())
def test_a_mutated_suite_loads_or_names_the_file(case: tuple[Path, str], registry: Any, project_copy: Path) -> None:
    source, text = case
    # Beside the suite's own files (templates, datasets), as if a user had edited it in place.
    target = project_copy / source.relative_to(ROOT).parent / "fuzzed.eval.yaml"
    target.write_text(text, encoding="utf-8")
    try:
        load_suite(target, project_copy, GenerationParams(), registry)
    except SuiteFileError as exc:
        assert str(target) in str(exc)


def test_broken_suite_files_never_stop_the_others(project: LlmProject) -> None:
    project.suite("good", "cases:\n  - id: one\n    input: hello\n    checks: [contains: hello]\n")
    project.suite("kind_is_a_mapping", "kind: {nested: true}\ncases: []\n")
    project.suite("template_path_too_long", "template: " + "a/" * 3000 + "x.j2\ncases:\n  - id: x\n    input: y\n")
    project.suite("not_yaml", "cases: [\n")
    project.suite("binary", "")
    (project.path / "binary.eval.yaml").write_bytes(b"\xff\xfe\x00garbage")
    result = project.run("--llm-model=echo:a")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("errors") == 4, result.stdout.str()
    out = result.stdout.str()
    for name in ("kind_is_a_mapping", "template_path_too_long", "not_yaml", "binary"):
        assert f"{name}.eval.yaml" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out
