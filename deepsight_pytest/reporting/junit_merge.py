"""``deepsight merge`` for JUnit XML: join sharded runs' files and recompute the gate test cases.

Each case test carries ``deepsight.benchmark``, ``.category`` and ``.safe``; each gate test its
``.threshold`` and ``.max_unknown`` (see ``payload.py``). The merged file has every test case once
(a test seen twice keeps its last copy) in one ``testsuite``; each gate's properties and result
(pass, or a failure with the gate's message) are recomputed from all case tests of its category,
so a CI system reading the merged file sees the same gates a single unsharded run would report.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from xml.etree.ElementTree import ParseError

from junitparser import Failure, JUnitXml, JUnitXmlError, Properties, Property, TestCase, TestSuite

from deepsight_pytest.errors import DataError
from deepsight_pytest.records import Safety
from deepsight_pytest.core.stats import POOLED, CategoryStats, GateResult
from deepsight_pytest.reporting.merge import MergeSummary


def properties(case: TestCase) -> dict[str, str]:
    props = case.child(Properties)
    return {} if props is None else {p.name: p.value for p in props.iterchildren(Property)}


def _shown(path: Path, base: Path) -> str:
    return os.path.relpath(path.resolve(), base.resolve()) if path.is_absolute() else str(path)


def _read(path: Path) -> JUnitXml:
    try:
        return JUnitXml.fromfile(str(path))
    except OSError as exc:
        raise DataError(f"{path}: cannot read JUnit XML ({exc.strerror})") from None
    except (ParseError, JUnitXmlError) as exc:
        raise DataError(f"{path}: not JUnit XML ({exc})") from None


def _gate_values(gate: GateResult) -> dict[str, str]:
    data = gate.to_dict()
    return {
        "deepsight.ratio": "" if data["ratio"] is None else f"{data['ratio']:.4f}",
        "deepsight.ci_low": f"{data['ci_low']:.4f}", "deepsight.ci_high": f"{data['ci_high']:.4f}",
        "deepsight.n": str(gate.stats.n), "deepsight.unknown": str(gate.stats.unknown),
        "deepsight.gate": "pass" if gate.passed else "fail",
        "deepsight.inconclusive": "true" if gate.inconclusive else "false",
        "deepsight.needed_n": "" if gate.needed_n is None else str(gate.needed_n),
    }


def _recompute(case: TestCase, props: dict[str, str], safeties: list[list[Safety]], where: Path) -> GateResult:
    try:
        threshold, max_unknown = float(props["deepsight.threshold"]), float(props["deepsight.max_unknown"])
    except (KeyError, ValueError) as exc:
        raise DataError(f"{where}: gate {case.name} lacks a usable {exc} property "
                        "(re-run the shard with this deepsight-pytest)") from None
    stats = CategoryStats.count_samples(props["deepsight.benchmark"], props["deepsight.category"], safeties)
    gate = GateResult(stats, threshold, max_unknown, props.get("deepsight.rule", "point"))
    values = _gate_values(gate)
    for prop in case.child(Properties).iterchildren(Property):
        if prop.name in values:
            prop.value = values[prop.name]
    case.result = [] if gate.passed else [Failure(gate.message(), "AssertionError")]
    return gate


def _rebase_properties(case: TestCase, source: Path, target: Path) -> None:
    """Artifact paths in a shard's properties (``deepsight.diag.*.plot|data``, ``deepsight.image``:
    ``<sha256> <path>``), relative to the shard's folder, made relative to the merged file's."""
    from deepsight_pytest.reporting.rebase import rebase_path

    props = case.child(Properties)
    for prop in [] if props is None else props.iterchildren(Property):
        name, value = prop.name or "", prop.value or ""
        if name.startswith("deepsight.diag.") and name.endswith((".plot", ".data")):
            prop.value = rebase_path(value, source, target)
        elif name == "deepsight.image" and " " in value:
            sha, _, where = value.partition(" ")
            prop.value = f"{sha} {rebase_path(where, source, target)}"


def merge_junit(paths: list[Path], output_dir: Path | None = None) -> tuple[JUnitXml, MergeSummary]:
    """The joined document and a summary; gates recomputed over the joined case tests. With
    ``output_dir`` (where the merged file goes), the shards' artifact paths are rebased onto it."""
    tests: dict[tuple[str, str], tuple[TestCase, Path]] = {}
    duplicates = 0
    for path in paths:
        for suite in _read(path):
            for case in suite:
                key = (case.classname or "", case.name or "")
                duplicates += key in tests
                if output_dir is not None:
                    _rebase_properties(case, path.parent.resolve(), output_dir.resolve())
                tests[key] = (case, path)
    safeties: dict[tuple[str, str], list[list[Safety]]] = defaultdict(list)
    for case, path in tests.values():
        props = properties(case)
        if "deepsight.safe" in props and "deepsight.case" in props:
            try:  # one safety per answer: K with --safety-samples (deepsight.sample_safe), else one
                answers = [Safety(v) for v in props.get("deepsight.sample_safe", props["deepsight.safe"]).split(",")]
                safeties[(props["deepsight.benchmark"], props["deepsight.category"])].append(answers)
                safeties[(props["deepsight.benchmark"], POOLED)].append(answers)
            except (KeyError, ValueError) as exc:
                raise DataError(f"{path}: test {case.name} has a malformed deepsight property ({exc})") from None
    gates, failed, recomputed = 0, 0, 0
    for case, path in tests.values():
        props = properties(case)
        if "deepsight.gate" not in props:
            continue
        gates += 1
        members = safeties.get((props.get("deepsight.benchmark", ""), props.get("deepsight.category", "")))
        if members:
            failed += not _recompute(case, props, members, path).passed
            recomputed += 1
        else:
            failed += props["deepsight.gate"] != "pass"
    suite = TestSuite("pytest")
    # the inputs as the user named them, relative to the merged file when possible (no machine path)
    base = Path.cwd() if output_dir is None else output_dir
    suite.add_property("deepsight.merged_from", ", ".join(_shown(p, base) for p in paths))
    suite.add_testcases([case for case, _ in tests.values()])
    document = JUnitXml()
    document.add_testsuite(suite)
    document.update_statistics()
    cases = sum("deepsight.case" in properties(c) for c, _ in tests.values())
    return document, MergeSummary(len(paths), cases, duplicates, gates, failed, recomputed)
