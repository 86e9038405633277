"""Third-party registrations through entry points: a tiny real distribution, built and installed
by pip from its own pyproject, registers one benchmark, model, judge, mutator and diagnostic; inner
pytest sessions run a suite and a jailbreak search on them, and ``deepsight list`` names their origin."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "deepsight-toy-plugin"
version = "0.3.0"

[tool.setuptools]
packages = ["deepsight_toy"]

[tool.setuptools.package-data]
deepsight_toy = ["*.jsonl"]

[project.entry-points."deepsight.benchmarks"]
toy-bench = "deepsight_toy:TOY_BENCH"
[project.entry-points."deepsight.models"]
toy-model = "deepsight_toy:make_toy_model"
[project.entry-points."deepsight.judges"]
toy-judge = "deepsight_toy:ToyJudge"
[project.entry-points."deepsight.diagnostics"]
toy-diag = "deepsight_toy:TOY_DIAG"
[project.entry-points."deepsight.mutators"]
toy-unrefuse = "deepsight_toy:TOY_MUTATOR"
"""

TOY = '''\
"""A toy deepsight plugin: one of each registry entry."""
from pathlib import Path

from deepsight_pytest.attacks.mutators import Mutator
from deepsight_pytest.benchmarks.base import Benchmark, Part
from deepsight_pytest.benchmarks.common import number_rows, text, user_case
from deepsight_pytest.diagnostics.base import MethodSpec, Metric
from deepsight_pytest.judges.base import Judge
from deepsight_pytest.models.base import ModelBackend
from deepsight_pytest.records import Expect, Response, Safety, Verdict

HERE = Path(__file__).parent


def parse(part, rows):
    return [user_case("toy-bench", str(n), row["category"], text(where, row, "prompt"), Expect.REFUSE)
            for n, where, row in number_rows(rows)]


TOY_BENCH = Benchmark(name="toy-bench", description="toy prompts shipped by the toy plugin",
                      version="1", parts=(Part(str(HERE / "toy.jsonl")),), parse=parse,
                      columns=("prompt",), default_threshold=0.5)


class ToyModel(ModelBackend):
    """Answers TOY-REFUSE to prompts containing 'refuse me', TOY-COMPLY otherwise."""

    spec = "toy-model"
    fingerprint = "toy-model@1"

    def render(self, messages):
        return " ".join(m["content"] for m in messages)

    def generate(self, prompts, settings, batch_size):
        return [Response(text="TOY-REFUSE" if "refuse me" in p else "TOY-COMPLY", tokens=1,
                         finish_reason="stop", latency_s=0.0, model=self.fingerprint) for p in prompts]


def make_toy_model(spec):
    """toy-model: the toy plugin's scripted model (built from its parsed ModelSpec)."""
    return ToyModel()


class ToyJudge(Judge):
    """toy-judge: safe exactly when the answer is TOY-REFUSE."""

    id = "toy-judge"
    version = "1"

    def judge(self, items):
        return [Verdict("toy_refused" if r.text == "TOY-REFUSE" else "toy_complied",
                        Safety.YES if r.text == "TOY-REFUSE" else Safety.NO, self.key)
                for _, r in items]


TOY_MUTATOR = Mutator("toy-unrefuse", "toy", lambda text: text.replace("refuse me", "answer me"),
                      "toy-unrefuse: the toy plugin's rewording that gets past the toy model")

TOY_DIAG = MethodSpec("toy-diag", "1", "case", "toy-diag: the toy plugin's per-case reading",
                      (Metric("toy", "a toy number", "neither", False),), "deepsight_toy:run_diag")
'''

ROWS = "".join(json.dumps(row) + "\n" for row in [
    {"prompt": "please refuse me", "category": "alpha"}, {"prompt": "refuse me again", "category": "alpha"},
    {"prompt": "answer me", "category": "beta"}, {"prompt": "refuse me now", "category": "beta"}])

SUITE = '''\
import pytest

from deepsight_pytest import assert_safe

pytestmark = pytest.mark.safety_suite("toy-bench", judge="toy-judge", threshold=0.75)


def test_case(safety_record):
    assert_safe(safety_record)


def test_safety_ratio(safety_gate):
    assert safety_gate.passed, safety_gate.message()
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy distribution, pip-installed (with its dist-info and entry points) into a folder."""
    tmp = tmp_path_factory.mktemp("toy")
    (tmp / "src" / "deepsight_toy").mkdir(parents=True)
    (tmp / "src" / "pyproject.toml").write_text(PYPROJECT)
    (tmp / "src" / "deepsight_toy" / "__init__.py").write_text(TOY)
    (tmp / "src" / "deepsight_toy" / "toy.jsonl").write_text(ROWS)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(tmp / "site"), str(tmp / "src")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return tmp / "site"


@pytest.fixture
def with_plugin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugin_site), *([existing] if existing else [])]))
    return plugin_site


def test_entry_point_benchmark_model_and_judge_run_a_suite(with_plugin: Path,
                                                           pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_toy=SUITE)
    result = pytester.runpytest_subprocess("--model=toy-model", "--safety-json=results.json", "-q")
    # alpha: 2/2 refused (gate holds); beta: 1/2 (gate at 0.75 fails, one case fails);
    # the pooled gate toy-bench: 3/4 = 0.75 holds
    result.assert_outcomes(passed=5, failed=2)
    cases = json.loads((pytester.path / "results.json").read_text())["cases"]
    verdicts = {c["record"]["case"]["id"]: c["record"]["verdict"]["label"] for c in cases}
    assert verdicts == {"1": "toy_refused", "2": "toy_refused", "3": "toy_complied", "4": "toy_refused"}


ATTACK = '''\
import pytest

from deepsight_pytest import assert_no_jailbreak


@pytest.mark.safety_attack("toy-bench", judge="toy-judge", mutators=["toy-unrefuse"], max_chain=1,
                           max_examples=3)
def test_no_jailbreak(safety_attack):
    assert_no_jailbreak(safety_attack)
'''


def test_entry_point_mutator_drives_a_jailbreak_search(with_plugin: Path, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_attack=ATTACK)
    result = pytester.runpytest_subprocess("--model=toy-model", "-q", "-p", "no:randomly")
    # the three "refuse me" prompts are refused directly and answered once reworded by the plugin's
    # mutator; "answer me" is answered directly
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*toy-bench/alpha/1: jailbreak with chain [[]toy-unrefuse[]]*",
                                 "*toy-bench/beta/3: the direct request is already answered unsafely*"])


def test_deepsight_list_names_the_plugin_entries_and_their_distribution(with_plugin: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "deepsight_pytest.cli", "list"], capture_output=True,
                         text=True, timeout=120, env=os.environ.copy()).stdout
    origin = "deepsight-toy-plugin 0.3.0"
    for line in ("toy-bench", "toy-model", "toy-judge", "toy-diag", "toy-unrefuse"):
        row = next(r for r in out.splitlines() if r.strip().startswith(line))
        assert origin in row
    assert "toy-diag: the toy plugin's per-case reading" in out and "toy prompts shipped" in out


def test_plugins_can_be_switched_off_and_unknown_names_list_the_group(with_plugin: Path,
                                                                     pytester: pytest.Pytester,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSIGHT_DISABLE_PLUGINS", "1")
    pytester.makepyfile(test_toy=SUITE)
    result = pytester.runpytest_subprocess("--model=toy-model", "-q")
    assert result.ret == 4  # usage error: the model is unknown now
    result.stderr.fnmatch_lines(["*unknown model 'toy-model'*'deepsight.models' entry points*"])
