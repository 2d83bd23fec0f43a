"""Command-line options and ini keys: model specs, cache mode, seed, report directory."""

from __future__ import annotations

import re

import pytest

from llmops_testutils import LlmProject

SUITE = """
suite: opts
cases:
  - id: one
    input: hello world
    checks:
      - contains: hello
  - id: two
    input: goodbye world
    checks:
      - contains: goodbye
"""

LLM_OPTIONS = ("--llm-model", "--llm-report-dir", "--llm-cache", "--llm-seed", "--llm-prompt", "--llm-rag-pipeline")


def _usage_error(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    return result.stderr.str()


def _assert_lists_forms(stderr: str) -> None:
    assert "Accepted forms" in stderr
    assert "smollm2" in stderr
    assert "hf:PATH_OR_HUB_ID" in stderr
    assert "openai:MODEL@BASE_URL" in stderr


# -- --llm-model ------------------------------------------------------------------------------
def test_repeatable_model_ids_show_alias(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    result = project.run("--llm-model=echo:a", "--llm-model=echo:b", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "opts.eval.yaml::one[[]a[]]",
        "opts.eval.yaml::two[[]a[]]",
        "opts.eval.yaml::one[[]b[]]",
        "opts.eval.yaml::two[[]b[]]",
        "4 tests collected*",
    ])


def test_repeatable_models_run_and_python_tests_are_parametrized(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("test_pyllm.py", """
        def test_answer(llm, llm_alias):
            assert llm.alias == llm_alias
            assert llm.generate("ping") == "echo: ping"
    """)
    result = project.run("--llm-model=echo:a", "--llm-model=echo:b", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*test_pyllm.py::test_answer[[]a[]] PASSED*",
                                 "*test_pyllm.py::test_answer[[]b[]] PASSED*"])


def test_alias_option_names_the_model(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    result = project.run("--llm-model=echo:some/long/name?alias=short", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["opts.eval.yaml::one[[]short[]]", "opts.eval.yaml::two[[]short[]]"])
    assert "name]" not in result.stdout.str()


def test_llm_models_marker_restricts_python_tests(project: LlmProject) -> None:
    project.write("test_marked.py", """
        import pytest

        @pytest.mark.llm_models("b")
        def test_only_b(llm):
            assert llm.alias == "b"
    """)
    result = project.run("--llm-model=echo:a", "--llm-model=echo:b", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_only_b[[]b[]] PASSED*"])


def test_duplicate_alias_is_a_usage_error(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    stderr = _usage_error(project.run("--llm-model=echo:x/m", "--llm-model=echo:y/m"))
    assert "share the alias 'm'" in stderr
    assert "?alias=" in stderr


def test_explicit_aliases_resolve_a_clash(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    result = project.run("--llm-model=echo:x/m?alias=m1", "--llm-model=echo:y/m?alias=m2")
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize("spec, why", [
    ("hf:", "needs a target"),
    ("bogus", "expected PROVIDER:TARGET"),
    ("openai:m@notaurl", "http(s) base URL"),
    ("openai:just-a-model", "http(s) base URL"),
    ("9x:target", "not a lowercase identifier"),
    ("echo:m?alias=bad name", "may only use letters"),
    ("", "empty"),
])
def test_malformed_spec_is_a_usage_error_listing_forms(project: LlmProject, spec: str, why: str) -> None:
    project.suite("opts", SUITE)
    stderr = _usage_error(project.run(f"--llm-model={spec}"))
    assert "--llm-model" in stderr
    assert why in stderr
    _assert_lists_forms(stderr)


def test_unknown_provider_is_a_usage_error_listing_plugin_forms(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    stderr = _usage_error(project.run("--llm-model=nope:x"))
    assert "unknown provider 'nope'" in stderr
    _assert_lists_forms(stderr)
    assert "echo:NAME" in stderr  # forms registered by plugins/conftests are listed too


@pytest.mark.parametrize("option", ["api_key", "token", "password"])
def test_secret_in_spec_is_refused(project: LlmProject, option: str) -> None:
    project.suite("opts", SUITE)
    stderr = _usage_error(project.run(f"--llm-model=openai:m@http://localhost:1/v1?{option}=sk-secret"))
    assert "api_key_env" in stderr
    assert f"option '{option}'" in stderr


# -- --llm-cache / --llm-seed ----------------------------------------------------------------
@pytest.mark.parametrize("value", ["sometimes", "RW", ""])
def test_bad_cache_mode_is_a_usage_error(project: LlmProject, value: str) -> None:
    project.suite("opts", SUITE)
    stderr = _usage_error(project.run(f"--llm-cache={value}", "--llm-model=echo:a"))
    assert "--llm-cache expects one of rw, read, off, refresh" in stderr


@pytest.mark.parametrize("value, why", [("-1", "must be >= 0"), ("abc", "expects an integer"), ("1.5", "expects an integer")])
def test_bad_seed_is_a_usage_error(project: LlmProject, value: str, why: str) -> None:
    project.suite("opts", SUITE)
    stderr = _usage_error(project.run(f"--llm-seed={value}", "--llm-model=echo:a"))
    assert "--llm-seed" in stderr
    assert why in stderr


def test_seed_and_cache_mode_are_recorded(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    result = project.run("--llm-seed=7", "--llm-cache=off", "--llm-model=echo:a")
    result.assert_outcomes(passed=2)
    run = project.report()["run"]
    assert run["seed"] == 7
    assert run["cache"] == "off"


# -- ini keys -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ini_name, section", [("pytest.ini", "pytest"), ("tox.ini", "pytest")])
def test_ini_llm_model_linelist(project: LlmProject, ini_name: str, section: str) -> None:
    project.suite("opts", SUITE)
    project.write(ini_name, f"""
        [{section}]
        llm_model =
            echo:first
            echo:other?alias=second
    """)
    result = project.run("-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*one[[]first[]] PASSED*", "*one[[]second[]] PASSED*"])
    models = project.report()["run"]["models"]
    assert [(m["alias"], m["spec"]) for m in models] == [("first", "echo:first"),
                                                         ("second", "echo:other?alias=second")]


def test_command_line_models_override_ini(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("pytest.ini", """
        [pytest]
        llm_model = echo:from-ini
    """)
    result = project.run("--llm-model=echo:from-cli", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert "[from-cli]" in result.stdout.str()
    assert "from-ini" not in result.stdout.str()


def test_malformed_ini_model_is_a_usage_error(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("pytest.ini", """
        [pytest]
        llm_model = bogus
    """)
    stderr = _usage_error(project.run())
    assert "ini llm_model" in stderr
    _assert_lists_forms(stderr)


def test_ini_duplicate_alias_is_a_usage_error(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("pytest.ini", """
        [pytest]
        llm_model =
            echo:a
            echo:x?alias=a
    """)
    stderr = _usage_error(project.run())
    assert "share the alias 'a'" in stderr


def test_ini_report_dir_and_cache(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("pytest.ini", """
        [pytest]
        llm_model = echo:a
        llm_report_dir = out/llm
        llm_cache = off
    """)
    result = project.run()
    result.assert_outcomes(passed=2)
    assert not (project.path / "reports").exists()
    report = project.report("out/llm")
    assert report["run"]["cache"] == "off"
    assert not (project.path / ".llmops-cache" / "responses.sqlite").exists()  # off: nothing stored


def test_ini_bad_cache_mode_is_a_usage_error(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("pytest.ini", """
        [pytest]
        llm_cache = always
    """)
    stderr = _usage_error(project.run("--llm-model=echo:a"))
    assert "ini llm_cache" in stderr
    assert "always" in stderr


def test_ini_bad_seed_is_a_usage_error(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("pytest.ini", """
        [pytest]
        llm_seed = minus-one
    """)
    stderr = _usage_error(project.run("--llm-model=echo:a"))
    assert "llm_seed" in stderr


def test_report_dir_option_writes_report_there(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    result = project.run("--llm-model=echo:a", "--llm-report-dir=custom/reports-here")
    result.assert_outcomes(passed=2)
    assert not project.report_path().exists()
    report = project.report("custom/reports-here")
    assert report["suites"]["opts"]["passed"] == 2
    assert f"report: {project.report_path('custom/reports-here')}" in result.stdout.str()


def test_report_dir_option_overrides_ini(project: LlmProject) -> None:
    project.suite("opts", SUITE)
    project.write("pytest.ini", """
        [pytest]
        llm_report_dir = from-ini
    """)
    result = project.run("--llm-model=echo:a", "--llm-report-dir=from-cli")
    result.assert_outcomes(passed=2)
    assert project.report_path("from-cli").is_file()
    assert not (project.path / "from-ini").exists()


# -- --help ----------------------------------------------------------------------------------------
def test_help_shows_llm_options_in_one_group(project: LlmProject) -> None:
    result = project.run("--help")
    assert result.ret == pytest.ExitCode.OK
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if line.startswith("LLM evaluation (pytest-llmops)"))
    # The group runs until the next unindented header line.
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), len(lines))
    group = "\n".join(lines[start:end])
    for option in LLM_OPTIONS:
        assert re.search(rf"^\s+{re.escape(option)}\b", group, re.MULTILINE), f"{option} not in the llmops group"
    outside = "\n".join(lines[:start] + lines[end:])
    assert not re.search(r"^\s+--llm-", outside, re.MULTILINE)
    # ini keys are documented too
    for key in ("llm_model", "llm_report_dir", "llm_cache", "llm_seed"):
        assert re.search(rf"^\s+{key}\b", result.stdout.str(), re.MULTILINE), key


@pytest.mark.parametrize(("spec", "named"), [
    ("hf:./x?dtype=int3", "dtype='int3'"),
    ("smollm2?device=tpu", "device='tpu'"),
    ("smollm2?batch_size=0", "batch_size='0'"),
    ("hf:/nonexistent/model", "no such file or folder: '/nonexistent/model'"),
    ("hf:./missing-folder", "no such file or folder: 'missing-folder'"),
    ("openai:m@http://127.0.0.1:1/v1?concurrency=many", "concurrency='many'"),
    ("openai:m@http://127.0.0.1:1/v1?timeout=0", "timeout='0'"),
])
def test_a_bad_option_or_missing_path_is_one_usage_error_before_anything_runs(project: LlmProject, spec: str,
                                                                               named: str) -> None:
    project.suite("opts", SUITE)
    result = project.run(f"--llm-model={spec}")
    stderr = _usage_error(result)
    assert stderr.count("invalid model spec") == 1 and f"invalid model spec {spec!r}" in stderr and named in stderr
    _assert_lists_forms(stderr)
    assert "collected" not in result.stdout.str()  # nothing ran


def test_a_hub_id_is_not_taken_for_a_missing_path(project: LlmProject) -> None:
    from pytest_llmops.core.specs import parse_spec
    from pytest_llmops.providers.hf_options import check_hf_spec

    check_hf_spec(parse_spec("hf:HuggingFaceTB/SmolLM2-135M-Instruct"))  # resolved (offline) when it loads
    check_hf_spec(parse_spec(f"hf:{project.path}"))  # an existing folder
