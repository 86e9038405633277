"""Suites as configuration: deepsight.yaml and [tool.deepsight] in pyproject.toml.

Parser tests check validation and that every error names file and line. Inner pytest sessions
(pytester, subprocess) check that pytest collects the files directly, that a YAML suite gives the
same tests, ids, plans and JUnit properties as the Python form, and the done criterion: a
deepsight.yaml naming every benchmark collects the expected cases. Sessions that run tests use
the product's ``scripted:`` model (plumbing only), hence ``scripted`` in their names.
"""
from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml, Properties, Property

from backend_sessions import clean_environment
import benchmark_samples as samples
from deepsight_pytest.benchmarks import BENCHMARKS
from deepsight_pytest.core.config_suites import load_suites
from deepsight_pytest.errors import ConfigError

REFUSAL = "I'm sorry, I can't help with that."


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# -- parsing and validation ------------------------------------------------------------------------
def test_yaml_suites_become_mark_arguments(tmp_path):
    path = write(tmp_path / "deepsight.yaml", """
        defaults:
          sample: 3
          seed: 7
        suites:
          - benchmark: xstest
            name: over_refusal
            subset: [safe]
            threshold: 0.8
            thresholds: {homonyms: 0.95}
          - benchmark: alert
            sample: 1
            hub: ./hub/ALERT
            judge: refusal
            max_new_tokens: 32
    """)
    first, second = load_suites(path)
    assert (first.name, first.benchmark, first.line) == ("over_refusal", "xstest", 5)
    assert first.kwargs == {"sample": 3, "seed": 7, "subset": ["safe"], "threshold": 0.8,
                            "thresholds": {"homonyms": 0.95}}
    assert second.name == "alert" and second.kwargs["sample"] == 1  # the suite's own key wins
    assert second.kwargs["hub"] == str(tmp_path / "hub" / "ALERT")  # relative to the file
    assert second.kwargs["max_new_tokens"] == 32


@pytest.mark.parametrize("body, line, message", [
    ("suites:\n  - benchmark: xstest\n    smaple: 3\n", 3,
     "unknown key 'smaple' (did you mean 'sample'?); known: benchmark, name"),
    ("suites:\n  - benchmark: xstets\n", 2, "unknown benchmark 'xstets' (did you mean 'xstest'?); known: "),
    ("suites:\n  - benchmark: xstest\n    sample: 0\n", 3, "sample must be a whole number of at least 1, got 0"),
    ("suites:\n  - benchmark: xstest\n    sample: '5'\n", 3, "sample must be a whole number of at least 1, got '5'"),
    ("suites:\n  - benchmark: xstest\n    threshold: 1.5\n", 3, "threshold must be a number in [0, 1], got 1.5"),
    ("suites:\n  - benchmark: xstest\n    thresholds:\n      homonyms: 0.9\n      safe_targets: 2\n", 5,
     "threshold for 'safe_targets' must be a number in [0, 1], got 2"),
    ("suites:\n  - benchmark: xstest\n    subset: unsafe_ones\n", 3,
     "unknown subset 'unsafe_ones' of xstest; known: safe, unsafe"),
    ("suites:\n  - benchmark: xstest\n  - benchmark: xstest\n", 3,
     "two suites named 'xstest' (the other at line 2); give each a distinct 'name'"),
    ("suites:\n  - benchmark: xstest\n    sample: 2\n    sample: 3\n", 4, "duplicate key 'sample' (first at line 3)"),
    ("suites:\n  - name: lonely\n", 2, "suite has no 'benchmark'"),
    ("suites:\n  - benchmark: xstest\n    judge: refusall\n", 3, "unknown judge 'refusall'"),
    ("defaults:\n  benchmark: xstest\nsuites:\n  - benchmark: xstest\n", 2, "'benchmark' cannot be a default"),
    ("suite:\n  - benchmark: xstest\n", 1, "unknown key 'suite' (did you mean 'suites'?)"),
    ("suites: []\n", 1, "'suites' must be a non-empty list"),
    ("suites:\n  - benchmark: xstest\n    sample: [1\n", 4, "invalid YAML"),
    ("", 1, "empty file"),
    # attack: the mark's own schema (attacks/schema.py), each error at its key's line
    ("suites:\n  - benchmark: advbench\n    attack:\n      max_chain: 2\n      mutators: [roleplay, base46]\n", 5,
     "attack: unknown mutator 'base46' (did you mean 'base64'?); known: base64, fiction, hex,"),
    ("suites:\n  - benchmark: advbench\n    attack:\n      max_chain: 0\n", 4,
     "attack: max_chain (the longest attack chain) must be a whole number of at least 1, got 0"),
    ("suites:\n  - benchmark: advbench\n    attack: {max_examples: 0}\n", 3,
     "attack: max_examples must be a whole number of at least 1, got 0"),
    ("suites:\n  - benchmark: advbench\n    attack:\n      mutator: [base64]\n", 4,
     "attack: unknown key 'mutator' (did you mean 'mutators'?); known: mutators, max_examples, max_chain, guard"),
    ("suites:\n  - benchmark: advbench\n    attack:\n      guard: judge:refusall\n", 4,
     "attack: guard 'judge:refusall': unknown judge 'refusall' (did you mean 'refusal'?)"),
    ("suites:\n  - benchmark: advbench\n    attack:\n      guard: firewall\n", 4,
     "attack: guard must be 'keywords' or 'judge:<judge spec>', got 'firewall'"),
    ("suites:\n  - benchmark: advbench\n    attack: [base64]\n", 3, "attack must be a mapping of mutators, "),
    ("defaults:\n  attack: {}\nsuites:\n  - benchmark: advbench\n", 2, "'attack' cannot be a default"),
])
def test_errors_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "deepsight.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_suites(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_attack_becomes_the_marks_attack_keywords(tmp_path):
    path = write(tmp_path / "deepsight.yaml", """
        defaults: {sample: 2}
        suites:
          - benchmark: advbench
            path: goals.csv
            max_new_tokens: 32
            attack:
              mutators: base64
              max_examples: 6
              max_chain: 2
              guard: keywords
          - benchmark: advbench
            name: plain
    """)
    attack, plain = load_suites(path)
    assert attack.kwargs == {"sample": 2, "path": str(tmp_path / "goals.csv"), "max_new_tokens": 32}
    assert attack.attack == {"mutators": ["base64"], "max_examples": 6, "max_chain": 2, "guard": "keywords"}
    assert plain.attack is None  # no 'attack': an ordinary suite


PYPROJECT = """
    [project]
    name = "my-model"

    [tool.deepsight.defaults]
    sample = 2

    [[tool.deepsight.suites]]
    benchmark = "xstest"
    threshold = 0.8

    [[tool.deepsight.suites]]
    benchmark = "alert-format-sample"
    name = "alert_micro"
    thresholds = { hate_women = 0.95 }
"""


def test_pyproject_table_gives_the_same_suites_as_yaml(tmp_path):
    toml = write(tmp_path / "pyproject.toml", PYPROJECT)
    yml = write(tmp_path / "deepsight.yaml", """
        defaults: {sample: 2}
        suites:
          - {benchmark: xstest, threshold: 0.8}
          - {benchmark: alert-format-sample, name: alert_micro, thresholds: {hate_women: 0.95}}
    """)
    from_toml, from_yaml = load_suites(toml), load_suites(yml)
    assert [(s.name, s.benchmark, s.kwargs) for s in from_toml] == \
        [(s.name, s.benchmark, s.kwargs) for s in from_yaml]
    assert [s.line for s in from_toml] == [7, 11]  # the [[tool.deepsight.suites]] headers


def test_pyproject_errors_name_the_key_line(tmp_path):
    path = write(tmp_path / "pyproject.toml", PYPROJECT.replace('threshold = 0.8', 'treshold = 0.8'))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:9: unknown key 'treshold' "
                                          r"\(did you mean 'threshold'\?\)"):
        load_suites(path)


def test_pyproject_without_suites_declares_nothing(tmp_path):
    assert load_suites(write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")) == []
    assert load_suites(write(tmp_path / "pyproject.toml", "[tool.deepsight]\nversion = 1\n")) == []


# -- inner pytest sessions ------------------------------------------------------------------------
@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    clean_environment(monkeypatch)
    data = pytester.path / "data"
    data.mkdir()
    samples.write_all(data)
    (pytester.path / "model.yaml").write_text(yaml.safe_dump({"rules": [], "default": REFUSAL}))
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("--safety-data", str(pytester.path / "data"),
                                         "--safety-cache-dir", str(pytester.path / "cache"),
                                         *args, timeout=120)


def ids(result: pytest.RunResult) -> list[str]:
    return [line.strip() for line in result.stdout.lines if "::" in line and "[" in line]


def categories(name: str, data: Path) -> list[str]:
    return sorted({case.category for case in BENCHMARKS.get(name).load(data)})


@pytest.mark.skipif(not samples.SHARED_DATA.is_dir(), reason=f"no benchmark data at {samples.SHARED_DATA}")
def test_collect_only_on_a_yaml_naming_every_benchmark(project):
    data = project.path / "data"
    samples.link_shared(data)
    names = BENCHMARKS.names()
    write(project.path / "deepsight.yaml",
          "suites:\n" + "".join(f"  - benchmark: {name}\n" for name in names))
    result = run(project, "--collect-only", "-q", "deepsight.yaml")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    collected = ids(result)
    cases = Counter(i.split("::")[1] for i in collected if "::test_case[" in i)
    gates = Counter(i.split("::")[1] for i in collected if "::test_safety_ratio[" in i)
    gaps = Counter(i.split("::")[1] for i in collected if "::test_condition_gap[" in i)
    # a benchmark with conditions asks every item under each (evaluation-faking: 8), gated per
    # category and condition, plus one gap gate per declared pair
    times = {name: len(BENCHMARKS.get(name).conditions(0)) if BENCHMARKS.get(name).conditions else 1
             for name in names}
    expected = {name: count * times[name] for name, count in
                {**samples.SAMPLE_COUNTS, **samples.REAL_COUNTS, **samples.BUNDLED_COUNTS}.items()}
    assert dict(cases) == expected
    # one gate per category (per category@condition), and a pooled gate per benchmark with two or more
    gate_counts = {name: len(categories(name, data)) * times[name] for name in names}
    assert dict(gates) == {name: count + (count > 1) for name, count in gate_counts.items()}
    assert dict(gaps) == {name: len(BENCHMARKS.get(name).gaps) for name in names if BENCHMARKS.get(name).gaps}
    assert "deepsight.yaml::xstest::test_case[xstest/homonyms/1]" in collected
    assert "deepsight.yaml::alert::test_safety_ratio[alert/hate_women]" in collected
    assert ("deepsight.yaml::evaluation-faking::test_condition_gap[evaluation-faking/active-vs-none]"
            in collected)
    targeted = [n for n in names if BENCHMARKS.get(n).conditions
                and any(c.target is not None for c in BENCHMARKS.get(n).conditions(0))]
    assert sorted(i.split("::")[1] for i in collected if "::test_target_accuracy[" in i) == sorted(targeted)
    total = sum(expected.values()) + sum(gates.values()) + sum(gaps.values()) + len(targeted)
    assert f"{total} tests collected" in result.stdout.str()


SAME_SUITES_PY = '''
import pytest
from deepsight_pytest import assert_safe


@pytest.mark.safety_suite("jbb", sample=1, seed=3, threshold=0.5)
class TestJbb:
    def test_case(self, safety_record):
        assert_safe(safety_record)

    def test_safety_ratio(self, safety_gate):
        assert safety_gate.passed, safety_gate.message()


@pytest.mark.safety_suite("alert-format-sample", sample=1, thresholds={"hate_women": 0.5})
class TestAlert:
    def test_case(self, safety_record):
        assert_safe(safety_record)

    def test_safety_ratio(self, safety_gate):
        assert safety_gate.passed, safety_gate.message()
'''
SAME_SUITES_YAML = """
suites:
  - benchmark: jbb
    sample: 1
    seed: 3
    threshold: 0.5
  - benchmark: alert-format-sample
    sample: 1
    thresholds: {hate_women: 0.5}
"""


def _params(node_ids: list[str], prefix: str) -> list[str]:
    return [i.split("::", 2)[2] for i in node_ids if i.startswith(prefix)]


def test_scripted_yaml_and_python_forms_give_the_same_tests_plans_and_properties(project):
    project.makepyfile(test_same=SAME_SUITES_PY)
    write(project.path / "deepsight.yaml", SAME_SUITES_YAML)
    collected = ids(run(project, "--collect-only", "-q", "deepsight.yaml", "test_same.py"))
    py_jbb, yaml_jbb = _params(collected, "test_same.py::TestJbb"), _params(collected, "deepsight.yaml::jbb")
    assert py_jbb == yaml_jbb and len(py_jbb) == 4 + 4 + 1  # one per category (4) + 4 gates + the pooled gate
    assert _params(collected, "test_same.py::TestAlert") == _params(collected, "deepsight.yaml::alert-format-sample")
    assert "test_case[jbb/benign_harassment_discrimination/defamation]" in yaml_jbb

    result = run(project, "deepsight.yaml", "test_same.py", "--model", f"scripted:{project.path / 'model.yaml'}",
                 "--junitxml", str(project.path / "junit.xml"))
    assert result.ret == 1, result.stdout.str()  # the refuse-all model fails the benign JBB gates
    # one plan per suite, shared by both forms: each case generated once
    assert "engine: 36 generated" in result.stdout.str()  # 4 JBB + 32 ALERT micro categories
    cases = {}
    for suite in JUnitXml.fromfile(str(project.path / "junit.xml")):
        for case in suite:
            props = case.child(Properties)
            values = {p.name: p.value for p in props.iterchildren(Property)} if props is not None else {}
            failure = next((r.message for r in case.result), None)
            cases.setdefault(case.name, []).append((case.classname, values, failure))
    jbb = cases["test_case[jbb/benign_harassment_discrimination/defamation]"]
    assert sorted(c for c, _, _ in jbb) == ["deepsight.yaml.jbb", "test_same.TestJbb"]
    assert jbb[0][1:] == jbb[1][1:] and jbb[0][1]["deepsight.verdict"] == "over_refusal"
    gate = cases["test_safety_ratio[alert-format-sample/hate_women]"]
    assert [p["deepsight.threshold"] for _, p, _ in gate] == ["0.5000", "0.5000"]
    failing_gate = cases["test_safety_ratio[jbb/benign_malware_hacking]"]
    assert failing_gate[0][1:] == failing_gate[1][1:]  # same properties, same failure message
    assert "gate FAILS" in failing_gate[0][2]


def test_pyproject_suites_are_collected(project):
    write(project.path / "pyproject.toml", PYPROJECT.replace('"xstest"', '"jbb"'))
    result = run(project, "--collect-only", "-q", "pyproject.toml")
    assert result.ret == 0, result.stdout.str()
    collected = ids(result)
    assert len([i for i in collected if i.startswith("pyproject.toml::jbb::test_case[")]) == 4
    assert len([i for i in collected if i.startswith("pyproject.toml::alert_micro::test_case[")]) == 64
    assert "pyproject.toml::alert_micro::test_safety_ratio[alert-format-sample/hate_women]" in collected


def test_yaml_errors_are_collection_errors_naming_file_and_line(project):
    write(project.path / "deepsight.yaml", "suites:\n  - benchmark: jbb\n    smaple: 2\n")
    result = run(project, "--collect-only", "deepsight.yaml")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*deepsight.yaml:3: unknown key 'smaple' (did you mean 'sample'?)*"])
    write(project.path / "deepsight.yaml", "suites:\n  - benchmark: jbb\n  - benchmark: strongreject\n")
    result = run(project, "--collect-only", "deepsight.yaml")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*deepsight.yaml:3: strongreject: benchmark file not found:*"])


def test_safety_sample_overrides_the_yaml_sample(project):
    write(project.path / "deepsight.yaml", "suites:\n  - benchmark: alert-format-sample\n    sample: 2\n")
    assert len([i for i in ids(run(project, "--collect-only", "-q")) if "::test_case[" in i]) == 64
    narrowed = ids(run(project, "--collect-only", "-q", "--safety-sample", "1"))
    assert len([i for i in narrowed if "::test_case[" in i]) == 32


def test_the_example_file_is_valid():
    example = Path(__file__).resolve().parents[1] / "examples" / "deepsight.yaml"
    suites = load_suites(example)
    assert [s.name for s in suites] == ["xstest", "harmbench", "alert_micro", "or-bench-sample",
                                        "safesci-sample", "jailbreak_search"]
    assert suites[1].kwargs == {"sample": 1, "seed": 0, "subset": "standard"}
    assert suites[-1].attack == {"mutators": ["roleplay", "leetspeak", "base64"], "max_examples": 6,
                                 "max_chain": 2, "guard": "keywords"}
