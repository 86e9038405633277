"""Having the plugin installed costs unrelated test sessions nothing heavy."""
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "vllm", "datasets", "matplotlib")


def test_plugin_import_loads_no_heavy_module():
    code = ("import sys, deepsight_pytest.plugin; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unrelated_session_with_plugin_imports_no_torch(pytester):
    pytester.makepyfile(test_plain=f"""
        import sys

        def test_nothing_heavy_loaded():
            heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]
            assert heavy == []
    """)
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)
    assert "deepsight safety summary" not in result.stdout.str()


#: what option parsing and collection of unrelated tests must not import (issue 17: fast start)
NOT_AT_START = ("jinja2", "yaml", "asyncio", "http.client", "urllib.request", "numpy", "sqlite3",
                "deepsight_pytest.pytest_integration.hooks", "deepsight_pytest.core.engine", "deepsight_pytest.pytest_integration.session",
                "deepsight_pytest.models.vllm_server", "deepsight_pytest.models.openai_backend")


def test_plain_session_imports_no_template_yaml_async_http_or_server_helper(pytester):
    pytester.makeconftest(f"""
        import sys

        def pytest_unconfigure(config):
            loaded = sorted(m for m in {NOT_AT_START!r} if m in sys.modules)
            print("LOADED-AT-END", loaded)
    """)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    # pytest-html (installed here) imports jinja2 itself, with or without deepsight: it is left out
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "-p", "no:anyio", "-p", "no:html", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["LOADED-AT-END []"])


#: a conftest that prints, at the end, whether deepsight's safety-suite hooks were registered
HOOKS_PROBE = """
import sys

def pytest_unconfigure(config):
    print("HOOKS-ACTIVE", config.pluginmanager.has_plugin("deepsight-hooks"), "deepsight_pytest.core.engine" in sys.modules)
"""
QUIET = ("-p", "no:hypothesispytest", "-p", "no:anyio", "-s")


def _without_deepsight_env(monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("DEEPSIGHT_")]:
        monkeypatch.delenv(name)


def test_any_deepsight_option_registers_the_hooks_at_configure(pytester, monkeypatch):
    _without_deepsight_env(monkeypatch)
    pytester.makeconftest(HOOKS_PROBE)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess(*QUIET, "--safety-sample", "3")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["HOOKS-ACTIVE True True"])
    monkeypatch.setenv("DEEPSIGHT_SEED", "4")  # the environment counts as configuring it too
    pytester.runpytest_subprocess(*QUIET).stdout.fnmatch_lines(["HOOKS-ACTIVE True True"])


def test_a_safety_fixture_activates_the_hooks_during_collection(pytester, monkeypatch):
    _without_deepsight_env(monkeypatch)
    pytester.makeconftest(HOOKS_PROBE)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n",
                        test_unmarked="def test_gate(safety_gate):\n    assert safety_gate.passed\n")
    result = pytester.runpytest_subprocess(*QUIET, "test_plain.py")
    result.stdout.fnmatch_lines(["HOOKS-ACTIVE False False"])
    result = pytester.runpytest_subprocess(*QUIET)
    # the hooks parametrise the very test that activated them: here, by refusing it without a mark
    result.stdout.fnmatch_lines(["*test_unmarked.py::test_gate: uses a safety fixture (safety_gate) but has no "
                                 "@pytest.mark.safety_suite(...)*", "HOOKS-ACTIVE True True"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_a_deepsight_yaml_activates_the_hooks_and_is_collected(pytester, monkeypatch):
    _without_deepsight_env(monkeypatch)
    pytester.makeconftest(HOOKS_PROBE)
    (pytester.path / "deepsight.yaml").write_text("suites:\n  - benchmark: jbb\n    smaple: 2\n")
    result = pytester.runpytest_subprocess(*QUIET, "--collect-only", "deepsight.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*deepsight.yaml:3: unknown key 'smaple' (did you mean 'sample'?)*",
                                 "HOOKS-ACTIVE True True"])


def test_marks_and_fixtures_are_known_without_the_hooks(pytester, monkeypatch):
    _without_deepsight_env(monkeypatch)
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.safety_suite(benchmark, *, subset=None*",
                                 "@pytest.mark.deepscan(method, **params, **bounds)*",
                                 "@pytest.mark.safety_attack(benchmark, *, mutators=None*"])
    fixtures = pytester.runpytest_subprocess("--fixtures").stdout.str()
    for name in ("safety_record", "safety_gate", "safety_gap", "safety_targets", "model", "judge", "deepscan",
                 "deepscan_check", "safety_attack"):
        assert f"{name} " in fixtures or f"{name} [session scope]" in fixtures, name
