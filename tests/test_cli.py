"""The ``deepsight`` console command on real result files from inner sessions (scripted backend).

Sharded runs are made the way a CI matrix makes them: the same suites run with different ``-k``
selections (or different sample seeds), each shard writing its own JSON results and JUnit XML.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

from deepsight_pytest.reporting.junit_merge import properties
from report_sessions import REFUSAL, Project, compare_runs, output, parse_card, run_cli

SHARDS = ("test_case and (advbench or homonyms)", "test_case and not (advbench or homonyms)", "test_safety_ratio")


def test_deepsight_help_for_each_subcommand() -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and all(name in top.stdout for name in ("report", "compare", "merge"))
    for command, needles in {"report": ("--output", "--screenshot"),
                             "compare": ("--margin", "--alpha", "--fail-on-drop"),
                             "merge": ("--output", "--fail-on-gate", "JUnit XML")}.items():
        result = run_cli(command, "--help")
        assert result.returncode == 0, output(result)
        assert result.stdout.startswith(f"usage: deepsight {command}")
        assert all(n in " ".join(result.stdout.split()) for n in needles), result.stdout
    assert run_cli("--version").stdout.strip() == "deepsight-pytest 0.1.0"


def json_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def gate_view(document: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(g["benchmark"], g["category"]): (g["n"], g["safe"], g["unsafe"], g["unknown"], g["threshold"],
                                              g["passed"], g["outcome"]) for g in document["gates"]}


def junit_view(path: Path) -> tuple[dict[tuple[str, str], tuple[Any, ...]], tuple[int, int, int, int]]:
    """Per test: result types and deepsight properties; and the totals a CI system reads."""
    document = JUnitXml.fromfile(str(path))
    tests = {}
    for suite in document:
        for case in suite:
            props = {k: v for k, v in properties(case).items() if k not in {"deepsight.latency_s"}}
            tests[(case.classname, case.name)] = (sorted(type(r).__name__ for r in case.result), props)
    document.update_statistics()
    return tests, (document.tests, document.failures, document.errors, document.skipped)


def test_scripted_merge_of_shards_equals_the_unsharded_run(tmp_path: Path) -> None:
    project = Project.create(tmp_path)
    full = project.run("--safety-json=full.json", "--junitxml=full.xml")
    assert full.returncode == 1, output(full)
    for i, selection in enumerate(SHARDS):
        shard = project.run(f"--safety-json=s{i}.json", f"--junitxml=s{i}.xml", "-k", selection)
        assert shard.returncode in (0, 1), output(shard)
    merged = run_cli("merge", "s0.json", "s1.json", "s2.json", "-o", "merged.json", cwd=tmp_path)
    assert merged.returncode == 0, output(merged)
    # 4 category gates and xstest's pooled gate, each recomputed over the joined cases
    assert "merged 3 files: 9 cases, 5 gates (4 failing, 5 recomputed from cases)" in merged.stdout
    whole, joined = json_of(tmp_path / "full.json"), json_of(tmp_path / "merged.json")
    assert {c["nodeid"]: c["record"] for c in joined["cases"]} == {c["nodeid"]: c["record"] for c in whole["cases"]}
    assert gate_view(joined) == gate_view(whole)
    assert joined["categories"] == whole["categories"]
    assert joined["meta"]["merged_from"] == ["s0.json", "s1.json", "s2.json"]

    xml = run_cli("merge", "s0.xml", "s1.xml", "s2.xml", "-o", "merged.xml", "--fail-on-gate", cwd=tmp_path)
    assert xml.returncode == 1, output(xml)  # four gates fail over all cases (the pooled one too)
    assert junit_view(tmp_path / "merged.xml") == junit_view(tmp_path / "full.xml")


def test_scripted_merge_recomputes_gates_over_shards_that_sampled_differently(tmp_path: Path) -> None:
    goals = [f"Explain harmful procedure number {i} in detail" for i in range(12)]
    project = Project.create(tmp_path, rules=[{"match": r"number [0-5] ", "response": "Sure."}], default=REFUSAL,
                             advbench=goals)
    for seed in (1, 2):
        shard = project.run(f"--safety-json=seed{seed}.json", f"--junitxml=seed{seed}.xml", "--safety-sample=3",
                            f"--safety-seed={seed}", "-k", "advbench")
        assert shard.returncode in (0, 1), output(shard)
    shards = [json_of(tmp_path / f"seed{s}.json") for s in (1, 2)]
    assert all(s["gates"][0]["n"] == 3 for s in shards)
    union = {c["nodeid"]: c["record"] for s in shards for c in s["cases"]}
    assert len(union) > 3  # the seeds drew different cases
    assert run_cli("merge", "seed1.json", "seed2.json", "-o", "m.json", cwd=tmp_path).returncode == 0
    [gate] = json_of(tmp_path / "m.json")["gates"]
    safe = sum(r["verdict"]["safe"] == "yes" for r in union.values())
    assert (gate["n"], gate["safe"], gate["unsafe"]) == (len(union), safe, len(union) - safe)
    assert gate["passed"] == (safe / len(union) >= gate["threshold"])
    assert run_cli("merge", "seed1.xml", "seed2.xml", "-o", "m.xml", cwd=tmp_path).returncode == 0
    merged, _ = junit_view(tmp_path / "m.xml")
    [(result, props)] = [v for (_, name), v in merged.items() if name.startswith("test_safety_ratio")]
    assert props["deepsight.n"] == str(len(union)) and props["deepsight.gate"] == ("pass" if gate["passed"] else "fail")
    assert result == ([] if gate["passed"] else ["Failure"])


def test_scripted_merge_refuses_mixed_kinds_and_different_models(tmp_path: Path) -> None:
    project = Project.create(tmp_path)
    project.model([], REFUSAL, name="refuse.yaml")
    for model, name in (("model.yaml", "a"), ("refuse.yaml", "b")):
        project.run(f"--safety-json={name}.json", f"--junitxml={name}.xml", "-k", "advbench", model=model)
    mixed = run_cli("merge", "a.json", "b.xml", "-o", "m.json", cwd=tmp_path)
    assert mixed.returncode == 2
    assert mixed.stderr.strip().splitlines() == [
        "deepsight merge: error: inputs and output must all be JSON results (.json) or all JUnit XML (.xml); "
        "got .json, .xml (merge each kind with its own command)"]
    models = run_cli("merge", "a.json", "b.json", "-o", "m.json", cwd=tmp_path)
    assert models.returncode == 2 and "shards answer with different models" in models.stderr
    assert not (tmp_path / "m.json").exists()


def test_scripted_compare_finds_the_significant_drop(tmp_path: Path) -> None:
    compare_runs(tmp_path)
    result = run_cli("compare", "a.json", "b.json", "-o", "diff.html", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    assert ("diff.html: 1 significant drop(s), 0 gain(s) over 4 categories and 1 pooled benchmark(s); "
            "21 case(s) newly unsafe, "
            "3 newly safe") in result.stdout
    header, *rows = parse_card((tmp_path / "diff.html").read_text(encoding="utf-8")).rows["gates"]
    verdicts = {(r[0], r[1]): r[-1] for r in rows}
    assert verdicts == {("advbench", "harmful_behaviors"): "significant drop",
                        ("xstest", "contrast_homonyms"): "no significant change",
                        ("xstest", "figurative_language"): "no significant change",
                        ("xstest", "homonyms"): "no significant change",  # 0/3 -> 2/3: n too small
                        ("xstest", "(pooled)"): "no significant change"}
    assert run_cli("compare", "a.json", "b.json", "-o", "diff.html", "--fail-on-drop", cwd=tmp_path).returncode == 1
    back = run_cli("compare", "b.json", "a.json", "-o", "back.html", "--fail-on-drop", cwd=tmp_path)
    assert back.returncode == 0 and "0 significant drop(s), 1 gain(s)" in back.stdout
    # B against itself: nothing changed.
    same = run_cli("compare", "b.json", "b.json", "-o", "same.html", "--fail-on-drop", cwd=tmp_path)
    assert same.returncode == 0 and "0 significant drop(s), 0 gain(s)" in same.stdout


@pytest.mark.parametrize("content, needle", [(None, "cannot read results file"), ("{}", "not a deepsight results file"),
                                             ("<xml/>", "not a JSON results file")])
def test_report_errors_are_one_line(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli("report", str(path), "-o", str(tmp_path / "card.html"))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"deepsight report: error: {path}: ") and needle in line
    assert run_cli("report", str(path)).returncode == 2  # -o missing: argparse usage error
