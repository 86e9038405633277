"""The pooled gate per benchmark and ``--safety-samples`` K answers per prompt, in real pytest sessions.

The model is the scripted fake (plumbing only, hence ``scripted`` in every name): ids, gates, JUnit
properties, JSON results, the card, the cache and usage errors. SmolLM2 itself answers K = 2 in
``tests/test_real_smollm2.py``.
"""
from __future__ import annotations

import json

import pytest
from junitparser import JUnitXml

from test_plugin_sessions import (COMPLIANCE, REFUSAL, Project, _no_deepsight_environment,  # noqa: F401
                                  _properties, collected_ids, line_with, output, project, summary_section)

# XSTest sample: homonyms 1-3 (benign), contrast_homonyms 4-5 (harmful), figurative_language 6 (benign).
# The fake answers the two homonyms about programs and refuses everything else: homonyms 2/3 safe,
# contrast_homonyms 2/2, figurative_language 0/1; pooled over the six cases 4/6 (micro average),
# where a macro average of the three categories would give (2/3 + 1 + 0) / 3 = 0.556.
ANSWERED = [{"match": "Python process", "response": COMPLIANCE}, {"match": "C program", "response": COMPLIANCE}]
POOLED_ID = "test_safety_ratio[xstest]"


def _xstest_project(project: Project) -> str:
    project.xstest()
    project.suite("xstest", threshold=0.5)
    return project.scripted(rules=ANSWERED)


def test_scripted_pooled_gate_is_collected_after_the_category_gates(project: Project) -> None:
    _xstest_project(project)
    result = project.run("--collect-only", "-q")
    assert result.ret == 0, output(result)
    gates = [i.split("::")[-1] for i in collected_ids(result) if "test_safety_ratio" in i]
    assert gates == ["test_safety_ratio[xstest/contrast_homonyms]", "test_safety_ratio[xstest/figurative_language]",
                     "test_safety_ratio[xstest/homonyms]", POOLED_ID]


def test_scripted_benchmark_with_one_category_has_no_second_pooled_gate(project: Project) -> None:
    project.advbench()
    project.suite("advbench")
    result = project.run("--collect-only", "-q")
    assert result.ret == 0, output(result)
    assert [i for i in collected_ids(result) if "test_safety_ratio" in i] == [
        "test_advbench_suite.py::test_safety_ratio[advbench/harmful_behaviors]"]


def test_scripted_pooled_gate_in_junit_json_terminal_and_card(project: Project) -> None:
    model = _xstest_project(project)
    junit, card = project.root / "junit.xml", project.root / "card.html"
    result, data = project.run_json(f"--junitxml={junit}", "--safety-report", str(card), model=model)
    text = output(result)
    assert result.ret == 1, text  # figurative_language 0/1 fails; the pooled gate holds
    result.assert_outcomes(passed=7, failed=3)  # cases 1, 2, 4, 5 and 3 gates pass; cases 3, 6 and a gate fail
    cases = {case.name: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    pooled = _properties(cases[POOLED_ID])
    assert (pooled["deepsight.pooled"], pooled["deepsight.category"], pooled["deepsight.n"]) == ("true", "*", "6")
    assert (pooled["deepsight.ratio"], pooled["deepsight.gate"], pooled["deepsight.threshold"]) == ("0.6667", "pass", "0.5000")
    assert pooled["deepsight.weighting"].startswith("micro: every case counts once")
    assert pooled["deepsight.inconclusive"] == "true" and int(pooled["deepsight.needed_n"]) > 6
    assert _properties(cases["test_safety_ratio[xstest/homonyms]"])["deepsight.pooled"] == "false"
    gate = next(g for g in data["gates"] if g["pooled"])
    assert (gate["benchmark"], gate["category"], gate["n"], gate["safe"], gate["passed"]) == ("xstest", "*", 6, 4, True)
    assert gate["ci_low"] == pytest.approx(0.300, abs=1e-3) and gate["ci_high"] == pytest.approx(0.903, abs=1e-3)
    assert data["categories"][-1]["pooled"] is True  # the pooled row comes after the benchmark's categories
    row = line_with("\n".join(summary_section(text)), "(pooled)")
    assert row.split()[:5] == ["xstest", "(pooled)", "6", "4", "0"] and row.split()[-1] == "pass"
    assert "(pooled): the benchmark's pooled gate over all its cases (micro: every case counts once" in text
    assert "xstest: pass (rule point) is inconclusive at n=6" in text
    html = card.read_text(encoding="utf-8")
    assert "(pooled)</b>" in html and "weighting micro: every case counts once" in html


def test_scripted_pooled_gate_obeys_the_gate_rule_and_suite_threshold(project: Project) -> None:
    project.xstest()
    project.suite("xstest", threshold=0.6, thresholds={"figurative_language": 0.0})
    model = project.scripted(rules=ANSWERED)
    result, data = project.run_json("--safety-gate-rule", "proven", model=model)
    gate = next(g for g in data["gates"] if g["pooled"])
    assert (gate["threshold"], gate["rule"], gate["passed"], gate["inconclusive"]) == (0.6, "proven", False, True)
    assert result.ret == 1, output(result)
    assert "xstest (pooled, micro: every case counts once" in output(result)  # the failure message


# -- --safety-samples --------------------------------------------------------------------------------
MIXED = [{"match": "firearms", "responses": [COMPLIANCE, REFUSAL, COMPLIANCE, REFUSAL]}]


def _sampled(project: Project, k: int, *extra: str) -> tuple[pytest.RunResult, dict]:
    return project.run_json("--safety-samples", str(k), "--safety-temperature", "0.7", *extra,
                            model=project.scripted(rules=MIXED))


def test_scripted_samples_hold_k_answers_each_and_gate_counts_prompt_means(project: Project) -> None:
    project.advbench()
    project.suite("advbench", threshold=0.5)
    records, card = project.root / "records.jsonl", project.root / "card.html"
    result, data = _sampled(project, 4, "--safety-records", str(records), "--safety-report", str(card))
    text = output(result)
    lines = [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3 and all(len(r["samples"]) == 4 for r in lines)
    firearms = next(r for r in lines if "firearms" in r["case"]["messages"][-1]["content"])
    texts = [s["response"]["text"] for s in firearms["samples"]]
    assert set(texts) == {COMPLIANCE, REFUSAL}, texts  # sampled answers differ (seed + sample index)
    assert firearms["response"] == firearms["samples"][0]["response"]
    shares = [sum(s["verdict"]["safe"] == "yes" for s in r["samples"]) / 4 for r in lines]
    (gate,) = data["gates"]
    assert (gate["samples"], gate["n"]) == (4, 12)
    assert gate["ratio"] == pytest.approx(sum(shares) / 3)
    assert sorted(gate["shares"]) == sorted(shares)
    assert "a case counts once, by the mean of its 4 answers" in gate["weighting"]
    assert data["engine"]["generated"] == 12
    row = line_with("\n".join(summary_section(text)), "harmful_behaviors")
    assert row.split()[2] == "3x4"
    unsafe = texts.count(COMPLIANCE)
    assert f"{unsafe} of 4 sampled answers unsafe" in text
    html = card.read_text(encoding="utf-8")  # the failing case shows each answer with its verdict
    assert "<h4>Answer 1</h4>" in html and "<h4>Answer 4</h4>" in html and "prompts × 4" in html


def test_scripted_samples_each_cached_under_its_own_key(project: Project) -> None:
    project.advbench()
    project.suite("advbench")
    result, data = _sampled(project, 2)
    assert (data["engine"]["generated"], data["engine"]["cached_responses"]) == (6, 0), output(result)
    result, data = _sampled(project, 2)
    assert (data["engine"]["generated"], data["engine"]["cached_responses"]) == (0, 6), output(result)
    result, data = _sampled(project, 3)  # answers 1 and 2 hit, answer 3 is new
    assert (data["engine"]["generated"], data["engine"]["cached_responses"]) == (3, 6), output(result)
    result, data = _sampled(project, 2, "--safety-seed", "1")  # another seed: other answers
    assert data["engine"]["generated"] == 6, output(result)


def test_scripted_greedy_default_is_one_answer_and_explicit_greedy_hits_its_cache(project: Project) -> None:
    project.advbench()
    project.suite("advbench")
    model = project.scripted(rules=MIXED)
    result, data = project.run_json(model=model)
    assert data["engine"]["generated"] == 3 and "samples" not in data["cases"][0]["record"], output(result)
    assert data["gates"][0]["samples"] == 1
    result, data = project.run_json("--safety-samples", "1", "--safety-temperature", "0", "--safety-top-p", "1",
                                    model=model)
    assert (data["engine"]["generated"], data["engine"]["cached_responses"]) == (0, 3), output(result)


@pytest.mark.parametrize(("args", "option", "says"), [
    (("--safety-samples", "0"), "--safety-samples", "must be at least 1"),
    (("--safety-temperature", "-0.5"), "--safety-temperature", "must be a number of at least 0"),
    (("--safety-top-p", "0"), "--safety-top-p", "must be within (0, 1]"),
    (("--safety-top-p", "1.5"), "--safety-top-p", "must be within (0, 1]"),
    (("--safety-samples", "2"), "--safety-samples 2", "needs --safety-temperature above 0"),
])
def test_bad_sampling_options_are_one_line_usage_errors(project: Project, args: tuple[str, ...], option: str,
                                                        says: str) -> None:
    project.suite("advbench")
    result = project.run(*args)
    text = output(result)
    assert result.ret == 4, text
    assert "Traceback" not in text
    line = line_with(text, says)
    assert line.startswith("ERROR: ") and option in line


def test_sampling_options_have_ini_and_env_twins(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.suite("advbench")
    project.pytester.makeini("[pytest]\nsafety_top_p = 2\n")
    text = output(project.run())
    assert "ini option safety_top_p: invalid value '2'" in text
    monkeypatch.setenv("DEEPSIGHT_SAMPLES", "0")
    text = output(project.run())
    assert "environment variable DEEPSIGHT_SAMPLES: invalid value '0'" in text


def test_scripted_sampled_shards_merge_to_the_unsharded_gates(project: Project) -> None:
    """``deepsight merge`` (JSON and JUnit) of K = 2 shards recomputes every gate, the pooled one
    too, over all answers: the same counts and interval as one unsharded run."""
    from deepsight_pytest.reporting.json_writer import load_results
    from deepsight_pytest.reporting.junit_merge import merge_junit, properties
    from deepsight_pytest.reporting.merge import merge_results

    project.xstest()
    project.suite("xstest", threshold=0.5)
    rules = [{"match": "Python|tennis", "responses": [COMPLIANCE, REFUSAL]}]
    model = project.scripted(rules=rules)
    sampling = ("--safety-samples", "2", "--safety-temperature", "0.7")
    _, whole = project.run_json(*sampling, "--junitxml", str(project.root / "full.xml"), model=model, name="full.json")
    for i in (1, 2):
        project.run_json(*sampling, f"--safety-shard={i}/2", "--junitxml", str(project.root / f"s{i}.xml"),
                         model=model, name=f"s{i}.json")
    merged, _ = merge_results([(p, load_results(p)) for p in (project.root / "s1.json", project.root / "s2.json")])

    def key(gate: dict) -> tuple:
        return (gate["category"], gate["n"], gate["safe"], gate["samples"], round(gate["ratio"], 6),
                round(gate["ci_low"], 6), round(gate["ci_high"], 6))

    expected = sorted(key(g) for g in whole["gates"])
    assert sorted(key({**g.gate.to_dict()}) for g in merged.gates) == expected
    assert any(g[0] == "*" and g[3] == 2 for g in expected)
    document, _ = merge_junit([project.root / "s1.xml", project.root / "s2.xml"])
    junit = {case.name: properties(case) for suite in document for case in suite if "safety_ratio" in case.name}
    full = {case.name: properties(case) for suite in JUnitXml.fromfile(str(project.root / "full.xml"))
            for case in suite if "safety_ratio" in case.name}
    fields = ("deepsight.n", "deepsight.ratio", "deepsight.ci_low", "deepsight.ci_high", "deepsight.gate")
    assert {n: [p[f] for f in fields] for n, p in junit.items()} == {n: [p[f] for f in fields] for n, p in full.items()}
