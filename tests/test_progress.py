"""Live progress (``--safety-progress``) in real inner pytest sessions (scripted backend: plumbing).

pytester's sessions are not a tty, so they show the CI-log form: plain lines, here the one written
when each suite's phase ends. The in-place terminal form was looked at in tmux (docs/scaling.md).
"""
from __future__ import annotations

import re

import pytest
from report_sessions import REFUSAL, Project, run_in

from deepsight_pytest.pytest_integration.options import OPTIONS
from deepsight_pytest.pytest_integration.progress_display import progress_line

LINE = re.compile(r"^deepsight (advbench|xstest): (generating|judging) (\d+)/(\d+)(, \d+ tok/s)?, done in \d+s$")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    for option in OPTIONS:
        monkeypatch.delenv(option.env, raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:anyio")
    monkeypatch.setenv("DEEPSIGHT_JUDGE", "learned:text")
    return Project.create(pytester.path, rules=[], default=REFUSAL)


def progress_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("deepsight ") and ": " in line
            and not line.startswith("deepsight safety")]


def test_progress_line_counts_rate_and_time_left() -> None:
    assert progress_line("xstest", "generating", 30, 150, 1200, 10.0) == \
        "deepsight xstest: generating 30/150, 120 tok/s, 40s left"
    assert progress_line("xstest", "judging", 0, 150, 0, 0.0) == "deepsight xstest: judging 0/150"
    assert progress_line("hb", "diagnosing", 5, 5, 0, 75.0) == "deepsight hb: diagnosing 5/5, done in 1m15s"


def test_scripted_plain_lines_per_suite_and_phase_never_in_junit(pytester: pytest.Pytester, project: Project) -> None:
    result = run_in(pytester, project, "model.yaml", "--junitxml=out.xml", "-o", "junit_logging=all")
    result.assert_outcomes(passed=7, failed=7)  # 6 categories/cases + the pooled gate
    lines = progress_lines(result)
    assert sorted(LINE.match(line).group(1, 2, 3, 4) for line in lines) == [  # type: ignore[union-attr]
        ("advbench", "generating", "3", "3"), ("advbench", "judging", "3", "3"),
        ("xstest", "generating", "6", "6"), ("xstest", "judging", "6", "6")]
    # pytest's own result lines stay whole: each file line starts with the file's name again
    assert all(line.startswith(("test_suites.py ", "deepsight ")) for line in result.outlines
               if "[" in line and "%]" in line)
    xml = (pytester.path / "out.xml").read_text(encoding="utf-8")
    assert "generating" not in xml and "judging" not in xml  # not captured into any test's output


@pytest.mark.parametrize("args, shown", [(("-q",), False), (("-q", "--safety-progress=on"), True),
                                         (("-o", "safety_progress=off"), False), (("--safety-progress=auto",), True)])
def test_scripted_progress_modes(pytester: pytest.Pytester, project: Project, args: tuple[str, ...],
                                 shown: bool) -> None:
    result = run_in(pytester, project, "model.yaml", *args)
    result.assert_outcomes(passed=7, failed=7)  # 6 categories/cases + the pooled gate
    assert bool(progress_lines(result)) is shown


def test_scripted_env_off_and_bad_value(pytester: pytest.Pytester, project: Project,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSIGHT_PROGRESS", "off")
    assert progress_lines(run_in(pytester, project, "model.yaml")) == []
    bad = run_in(pytester, project, "model.yaml", "--safety-progress=loud")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in bad.errlines if line.strip()] == ["ERROR: --safety-progress: invalid value 'loud': must be 'auto', 'on' or 'off'"]


def test_scripted_xdist_workers_write_no_progress(pytester: pytest.Pytester, project: Project) -> None:
    pytest.importorskip("xdist")
    result = run_in(pytester, project, "model.yaml", "-n", "2", "--safety-progress=on")
    result.assert_outcomes(passed=7, failed=7)  # 6 categories/cases + the pooled gate
    assert progress_lines(result) == []
    assert not any("generating" in line or "judging" in line for line in result.outlines)
