"""pytest imports the plugin on every run: it must not pull in heavy or optional packages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmops_testutils import LlmProject

HEAVY = ("torch", "transformers", "jinja2", "github", "openai", "deepeval", "scipy", "numpy", "sacrebleu",
         "rouge_score", "nltk")

DUMP_CONFTEST = """
import json, os, sys

def pytest_sessionfinish(session):
    with open(os.path.join(str(session.config.rootpath), "modules.json"), "w") as fh:
        json.dump(sorted(sys.modules), fh)
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in HEAVY})


def test_importing_the_plugin_is_light() -> None:
    """Both pytest11 modules: the plugin and the metamorphic kind's fixture plugin."""
    code = ("import json, sys\n"
            "import pytest_llmops.plugin, pytest_llmops.suites.metamorphic.fixture\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    modules = json.loads(out.stdout)
    assert "pytest_llmops.plugin" in modules
    assert _heavy(modules) == []
    assert not [m for m in modules if m.startswith(("pytest_llmops.suites.metamorphic.", "pytest_llmops.session"))
                and m != "pytest_llmops.suites.metamorphic.fixture"]


def _modules_after(project: LlmProject, *args: str) -> list[str]:
    result = project.pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    return json.loads((project.path / "modules.json").read_text())


def test_collecting_a_plain_project_is_light(pytester: pytest.Pytester) -> None:
    project = LlmProject(pytester)
    pytester.makeconftest(DUMP_CONFTEST)
    pytester.makepyfile(test_trivial="def test_trivial():\n    assert True\n")
    modules = _modules_after(project, "--co", "-q")
    assert "pytest_llmops.plugin" in modules  # the plugin was loaded ...
    assert _heavy(modules) == []  # ... and nothing heavy with it
    assert "pytest_llmops.session" not in modules  # no LLM test: no session either


def test_collecting_a_yaml_suite_with_echo_is_light(pytester: pytest.Pytester) -> None:
    project = LlmProject(pytester)
    pytester.makeconftest(
        "from pytest_llmops.testing import register_echo_provider as llmops_register_providers\n" + DUMP_CONFTEST)
    project.suite("light", """
        cases:
          - id: one
            input: hi
            checks: [contains: hi, regex: 'h.', max-length: 10]
    """)
    modules = _modules_after(project, "--co", "-q", "--llm-model=echo:a")
    assert "pytest_llmops.suites.items" in modules
    assert _heavy(modules) == []
