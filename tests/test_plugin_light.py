"""Having the plugin installed costs unrelated test sessions nothing heavy."""
import subprocess
import sys

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
NOT_AT_START = ("jinja2", "yaml", "asyncio", "http.client", "urllib.request", "numpy",
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
