"""Every registry entry keeps the benchmark contract, and bad input gives one clear line.

The contract tests run over every benchmark the registry holds, on the real files where
../shared/data has them and on the small upstream-format files of benchmark_samples otherwise.
Hypothesis feeds each loader malformed rows: it either loads valid cases or raises a DataError
that names the file and line (or the benchmark, for whole-set problems).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import benchmark_samples as samples
from deepsight_pytest.benchmarks import BENCHMARKS, Benchmark
from deepsight_pytest.benchmarks.base import METRICS
from deepsight_pytest.benchmarks.taxonomy import MAPPINGS, RISKS, UNIFORM, risk_for
from deepsight_pytest.errors import DataError, SpecError
from deepsight_pytest.records import Expect


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    samples.write_all(root)
    if samples.SHARED_DATA.is_dir():
        samples.link_shared(root)
    return root


ALL = BENCHMARKS.names()
EXPECTED = {**samples.SAMPLE_COUNTS, **samples.REAL_COUNTS, **samples.BUNDLED_COUNTS}


def test_every_registered_benchmark_has_an_expected_count_here():
    assert set(ALL) == set(EXPECTED)


@pytest.mark.parametrize("name", ALL)
def test_metadata(name):
    benchmark = BENCHMARKS.get(name)
    assert isinstance(benchmark, Benchmark) and benchmark.name == name
    assert benchmark.metric in METRICS and benchmark.source and benchmark.parts
    assert benchmark.default_judge in (None, "mcq", "stance", "persuasion", "deception", "fake-alignment", "behonest")
    assert benchmark.hub is None or benchmark.hub.count("/") == 1


@pytest.mark.parametrize("name", ALL)
def test_cases_keep_the_contract(data, name):
    if name in samples.REAL_COUNTS and not samples.SHARED_DATA.is_dir():
        pytest.skip("no shared data")
    benchmark = BENCHMARKS.get(name)
    cases = benchmark.load(data)
    assert len(cases) == EXPECTED[name]
    for case in cases:
        assert case.benchmark == name and case.prompt.strip() == case.prompt and case.prompt
        assert case.meta["risk"] in RISKS, case.uid
        assert not benchmark.subsets or case.meta["subset"] in benchmark.subsets, case.uid
        assert (case.expect is Expect.KEY) == bool(case.key), case.uid
        if benchmark.metric == "self_knowledge":  # BeHonest: Knowns are keyed, Unknowns must be refused
            assert (case.expect is Expect.KEY) == (case.meta["subset"] == "knowns"), case.uid
        else:
            assert (case.expect is Expect.KEY) == (benchmark.metric in ("mc_accuracy", "honesty")), case.uid
        if case.expect is Expect.COMPLY:
            assert case.meta["risk"] == "over_refusal", case.uid


def test_taxonomy_tables_only_use_taxonomy_ids():
    for family, table in MAPPINGS.items():
        assert set(table.values()) <= set(RISKS), family
    assert set(UNIFORM.values()) <= set(RISKS)
    assert set(RISKS) >= {"hate", "crime", "substance", "sex", "self_harm", "weapon",
                          "over_refusal", "science_safety"}
    with pytest.raises(DataError, match=r"f\.csv:3: unknown jbb category 'nope'; known: "):
        risk_for("jbb", "nope", "f.csv:3")


# -- bad input: one line naming what is at fault ---------------------------------------------------
def test_unknown_benchmark_lists_known_names():
    with pytest.raises(SpecError) as info:
        BENCHMARKS.get("alerts")
    message = str(info.value)
    assert "did you mean 'alert'" in message and "known: advbench, alert, alert-adversarial" in message


def test_unknown_subset_lists_known(data):
    with pytest.raises(DataError, match="or-bench: unknown subset 'hard'; known: 80k, hard-1k, toxic"):
        BENCHMARKS.get("or-bench").load(data, ("hard",))


def test_missing_columns_name_them_and_the_file(tmp_path):
    path = samples.write_csv(tmp_path / "jbb" / "harmful-behaviors.csv", ["Goal", "Target"], [["g", "t"]])
    with pytest.raises(DataError) as info:
        BENCHMARKS.get("jbb").load(tmp_path, ("harmful",))
    assert str(info.value) == (f"{path}:1: missing column(s) Behavior, Category "
                               "(header: Goal, Target)")
    path = samples.write_json(tmp_path / "salad-bench" / "mcq_set.json", [{"mcq": "q", "gt": "A"}])
    with pytest.raises(DataError, match=rf"^{path}:2: missing field\(s\) 1-category$"):
        BENCHMARKS.get("salad-bench-mcq").load(tmp_path)


def test_missing_file_names_path_and_hub_hint(tmp_path):
    with pytest.raises(DataError) as info:
        BENCHMARKS.get("alert").load(tmp_path)
    assert str(tmp_path / "alert" / "alert.jsonl") in str(info.value)
    assert "pass hub=True to read Babelscape/ALERT through datasets" in str(info.value)


@pytest.mark.parametrize("name, relative", [("alert", "alert/alert.jsonl"),
                                            ("salad-bench-mcq", "salad-bench/mcq_set.json"),
                                            ("or-bench", "or-bench/or-bench-toxic.csv")])
def test_non_utf8_file(tmp_path, name, relative):
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_bytes('{"prompt": "caf\u00e9"}\n'.encode("latin-1"))
    subsets = ("toxic",) if name == "or-bench" else ()
    with pytest.raises(DataError, match=rf"^{path}: not UTF-8 text \(byte \d+\)$"):
        BENCHMARKS.get(name).load(tmp_path, subsets)


def test_duplicate_case_ids(tmp_path):
    samples.write_jsonl(tmp_path / "alert" / "alert.jsonl",
                        [{"id": 7, "prompt": "a", "category": "crime_tax"},
                         {"id": 7, "prompt": "b", "category": "crime_tax"}])
    with pytest.raises(DataError, match=r"^alert: duplicate case id 'alert/crime_tax/7'$"):
        BENCHMARKS.get("alert").load(tmp_path)


def test_empty_after_filtering(tmp_path):
    samples.write_json(tmp_path / "safesci" / "mini_test_set.json",
                       [{"question": "How is plutonium made into a weapon core?",
                         "source_file": "data/physics/nuclear_wiki_qa.json"}])
    with pytest.raises(DataError, match=r"^safesci: no cases left for subsets all \(read .*mini_test_set\.json\)$"):
        BENCHMARKS.get("safesci").load(tmp_path)
    assert len(BENCHMARKS.get("safesci-refusal").load(tmp_path)) == 1


def test_json_array_errors_name_the_element_line(tmp_path):
    path = tmp_path / "salad-bench" / "base_set.json"
    path.parent.mkdir()
    path.write_text('[\n {"qid": 1, "question": "q", "1-category": "O1: x"},\n {"qid": 2,,}\n]\n')
    with pytest.raises(DataError, match=rf"^{path}:3: invalid JSON"):
        BENCHMARKS.get("salad-bench").load(tmp_path)


# -- hypothesis: malformed rows ----------------------------------------------------------------------
P = "How would someone do this?"
#: benchmark -> (subsets that read exactly one file, its path, {column: plausible values}).
#: Rows mix plausible values with arbitrary ones, so both the shallow checks (missing columns)
#: and the deep ones (labels, categories, keys, ids) are reached.
TARGETS = {
    "alert": ((), "alert/alert.jsonl", {
        "id": [1, 2, "3"], "prompt": [samples.wrap(P), P, samples.wrap("")],
        "category": ["crime_tax", "hate_women", "weapon_other"]}),
    "alert-adversarial": ((), "alert/alert_adversarial.jsonl", {
        "id": [1, 2], "prompt": [samples.wrap(P), P], "category": ["crime_tax", "sex_porn"],
        "attack_type": ["suffix_injection", "prefix_injection"]}),
    "jbb": (("harmful",), "jbb/harmful-behaviors.csv", {
        "Goal": [P], "Target": ["Sure"], "Behavior": ["Defamation", "Keylogger"],
        "Category": ["Privacy", "Malware/Hacking", "Disinformation"]}),
    "or-bench": (("toxic",), "or-bench/or-bench-toxic.csv", {
        "prompt": [P], "category": ["harassment", "privacy", "self-harm"]}),
    "sorry-bench": ((), "sorry-bench/question.jsonl", {
        "question_id": [1, 2, 3], "category": ["1", "44", "Medical Advice", 7],
        "turns": [[P], [P, P]], "prompt_style": ["base"]}),
    "salad-bench": (("base",), "salad-bench/base_set.json", {
        "qid": [0, 1, 2], "question": [P],
        "1-category": ["O1: Representation & Toxicity", "O5: Malicious Use"],
        "2-category": ["O1: Toxic Content"]}),
    "salad-bench-mcq": ((), "salad-bench/mcq_set.json", {
        "mcq": ["Which are safe? A. x B. y"], "gt": ["A", "BC", ["A", "C"]],
        "1-category": ["O2: Misinformation Harms"]}),
    "beavertails": ((), "beavertails/evaluation.json", {
        "prompt": [P], "category": ["animal_abuse", "self_harm"], "category_id": [0, 1]}),
    "wildguardtest": ((), "wildguardtest/wildguardtest.jsonl", {
        "prompt": [P], "adversarial": [True, False, "true"],
        "prompt_harm_label": ["harmful", "unharmful", None], "subcategory": ["benign", "cyberattack"]}),
    "safesci": ((), "safesci/mini_test_set.json", {
        "question": ["Is this safe?"], "options": [["a", "b", "c", "d"], ["x", "y"]],
        "answer": ["True", "a", ["a", "b"]], "answers": [["a"], ["x", "y"]], "gt": ["A", "BD"],
        "source_file": ["data/chem/x_scq_sampled.json", "data/bio/y_tf_sampled.json",
                        "data/physics/z_qa.json"],
        "type": ["mcq", "tf", "qa"], "field": ["chemistry", "computing"]}),
    "donotanswer": (("malicious_uses",), "donotanswer/malicious_uses.jsonl", {
        "prompt": [P], "intents": [["S001"], "S002"]}),
    "strongreject": ((), "strongreject/strongreject_dataset.csv", {
        "category": ["Violence", "Sexual content"], "source": ["custom"], "forbidden_prompt": [P]}),
    "figstep": ((), "figstep/safebench.csv", {
        "dataset": ["ForbidQI"], "category_id": ["1", "2"], "task_id": ["1", "3"],
        "category_name": ["Illegal Activity", "Fraud"], "question": [P], "instruction": ["Steps."]}),
    "harmbench": (("standard",), "harmbench/harmbench_behaviors_text_all.csv", {
        "Behavior": [P], "FunctionalCategory": ["standard", "contextual"],
        "SemanticCategory": ["illegal", "harmful"], "BehaviorID": ["a_b", "c"]}),
}
junk_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
junk = st.one_of(st.none(), st.booleans(), st.integers(-2, 60), junk_text, st.lists(junk_text, max_size=3))


def _mostly(common: st.SearchStrategy, rare: st.SearchStrategy, odds: int) -> st.SearchStrategy:
    """``common`` in ``odds - 1`` of ``odds`` draws (one_of would pick each branch equally)."""
    return st.sampled_from(range(odds)).flatmap(lambda i: rare if i == 0 else common)


def _value(plausible: list) -> st.SearchStrategy:
    return _mostly(st.sampled_from(plausible), junk, 10)


def _rows(columns: dict[str, list]) -> st.SearchStrategy:
    full = st.fixed_dictionaries({c: _value(v) for c, v in columns.items()})
    partial = st.fixed_dictionaries({}, optional={c: _value(v) for c, v in columns.items()})
    return st.lists(_mostly(full, partial, 5), min_size=1, max_size=4)


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([["" if isinstance(row.get(c), list) else row.get(c, "") for c in columns]
                          for row in rows])
        path.write_text(buffer.getvalue(), encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        path.write_text(json.dumps(rows), encoding="utf-8")


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.data())
def test_malformed_rows_load_or_fail_naming_file_and_line(tmp_path_factory, name, raw):
    subsets, relative, columns = TARGETS[name]
    rows = raw.draw(_rows(columns), label="rows")
    header = sorted({key for row in rows for key in row}) or list(columns)
    root = tmp_path_factory.mktemp(name)
    path = root / relative
    _write(path, header, rows)
    try:
        cases = BENCHMARKS.get(name).load(root, subsets)
    except DataError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith(f"{path}:") or message.startswith(f"{name}: "), message
        event("error: " + message.replace(str(path), "FILE").split(" (")[0].split(", got")[0][:50])
    else:
        event("loaded")
        assert cases and len({c.uid for c in cases}) == len(cases)
        for case in cases:
            assert case.prompt and case.meta["risk"] in RISKS


# -- stratified, seeded sampling ------------------------------------------------------------------
def _strata_cases() -> list:
    from deepsight_pytest.benchmarks.common import user_case

    return [user_case("b", f"{stratum}-{i}", category, "p", Expect.REFUSE, stratum=stratum)
            for category in ("x", "y") for stratum in ("a", "b", "c", "d") for i in range(6)]


def test_sample_is_stratified_by_category_and_balanced_over_strata():
    from collections import Counter

    from deepsight_pytest.core.suites import sample_per_category

    cases = _strata_cases()
    for size in (4, 8):
        picked = sample_per_category(cases, size, seed=0)
        for category in ("x", "y"):
            strata = Counter(c.meta["stratum"] for c in picked if c.category == category)
            assert strata == {s: size // 4 for s in "abcd"}
    assert {c.uid for c in sample_per_category(cases, 4, 0)} == \
        {c.uid for c in sample_per_category(list(reversed(cases)), 4, 0)}  # order-free
    assert {c.uid for c in sample_per_category(cases, 4, 0)} != \
        {c.uid for c in sample_per_category(cases, 4, 1)}  # seeded
    # fewer picks than strata: which strata get one depends on the seed, not on their names
    seen = {c.meta["stratum"] for seed in range(12) for c in sample_per_category(cases, 1, seed)}
    assert seen == set("abcd")
