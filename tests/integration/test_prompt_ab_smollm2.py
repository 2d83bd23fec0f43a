"""The acceptance line of prompt A/B on the embedded SmolLM2: the shipped support prompt against a
deliberately worse variant (the product's name dropped) and a byte-identical copy
(``examples/prompt_ab``). The A/B table says ``worse`` for the worse variant, with its p-value,
and ``inconclusive`` with no flipped case for the copy."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from pytest_llmops.core.stats import mcnemar_exact

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "evalsuites" / "functional" / "prompts" / "support.yaml"


def test_the_copy_is_the_shipped_template_byte_for_byte() -> None:
    assert (ROOT / "examples" / "prompt_ab" / "prompts" / "support_copy.yaml").read_bytes() == SHIPPED.read_bytes()


def test_shipped_support_prompt_against_a_worse_variant_and_a_copy(pytester: pytest.Pytester) -> None:
    for folder in ("examples/prompt_ab", "evalsuites/functional/prompts"):
        shutil.copytree(ROOT / folder, pytester.path / folder)
    started = time.perf_counter()
    result = pytester.runpytest_subprocess("--llm-model=smollm2", "--llm-cache=off", "-p", "no:cacheprovider",
                                           "examples/prompt_ab")
    seconds = time.perf_counter() - started
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out[-3000:]  # the worse variant's cases fail
    report = json.loads((pytester.path / "reports" / "llmops-report.json").read_text(encoding="utf-8"))
    suites = report["suites"]
    prefix = "examples/prompt_ab/support_ab@"
    shipped, copy, worse = (suites[prefix + v] for v in ("shipped", "copy", "no_product"))

    ab = worse["metrics"]["ab"]
    rate = ab["metrics"]["pass_rate"]
    assert ab["decision"] == "worse" and rate["verdict"] == "worse"
    assert rate["p_value"] == pytest.approx(mcnemar_exact(ab["flips"]["worse"], ab["flips"]["better"]), rel=1e-5)
    assert rate["p_holm"] < 0.05
    assert rate["reference"] == pytest.approx(shipped["passed"] / shipped["n"], abs=1e-6)
    assert ab["flips"]["worse"] >= 6 and [f["id"] for f in ab["flipped"] if f["to"] == "failed"]

    same = copy["metrics"]["ab"]
    assert same["decision"] == "inconclusive" and same["flips"] == {"worse": 0, "better": 0}
    assert same["metrics"]["pass_rate"]["p_value"] == 1.0 and same["same_outputs"] == copy["n"]
    assert same["prompt_version"] == same["reference_prompt_version"]

    assert f"A/B {prefix}no_product vs shipped: WORSE" in out and f"A/B {prefix}copy vs shipped: INCONCLUSIVE" in out
    markdown = (pytester.path / "reports" / "llmops-report.md").read_text(encoding="utf-8")
    assert "### Prompt A/B: variants vs reference" in markdown
    # The figures, for docs/prompt-ab.md (shown with -s).
    print(f"\nprompt A/B on smollm2: shipped {shipped['passed']}/{shipped['n']}, worse {worse['passed']}/{worse['n']}, "
          f"flips {ab['flips']}, p {rate['p_value']:.3g} (Holm {rate['p_holm']:.3g}); copy p "
          f"{same['metrics']['pass_rate']['p_value']}; run {seconds:.1f} s")
