"""The README's worked examples run as written, on the real embedded model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _block(language: str, marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)
    return next(b for b in blocks if marker in b)


def test_readme_python_tests_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_readme=_block("python", "def test_capital(llm)"))
    shutil.copytree(ROOT / "evalsuites" / "functional" / "prompts", pytester.path / "prompts")
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_readme_yaml_suite_passes(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", factual_qa=_block("yaml", "capital-of-france"))
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
