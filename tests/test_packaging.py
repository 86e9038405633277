"""The wheel is the product: built from this tree, installed into a fresh virtual environment
and run from an empty folder, it carries its sample sets and suites (``deepsight init``).

The fresh environment sees the shared environment's dependencies through a path file (a plain
path line: that environment's editable install of this project is not activated), so the test
builds and installs only this package (``--no-deps``) and stays cheap. The suites run on the
scripted plumbing model.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("deepsight_pytest", "fixtures", "safety_tests", "pyproject.toml", "setup.py", "README.md")
ANSWERS = "rules:\n  - match: 'Options|True or false|true or false'\n    response: 'The answer is A.'\n" \
          "default: \"I'm sorry, but I can't help with that.\"\n"


def _clean_env() -> dict[str, str]:
    """This process's environment without the worktree on PYTHONPATH (the wheel must stand alone)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTEST_ADDOPTS"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), text=True, capture_output=True, timeout=600)


def build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the tree (the build writes build/ and egg-info beside it)."""
    source = tmp / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, source / name)
    done = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                 "-w", str(tmp / "dist"), str(source)], tmp)
    assert done.returncode == 0, done.stderr
    return next((tmp / "dist").glob("deepsight_pytest-*.whl"))


def fresh_venv(where: Path) -> Path:
    """A venv without pip whose path file adds this environment's site-packages; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], where)
    Path(purelib.stdout.strip(), "shared-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def pip_install(python: Path, *targets: str) -> None:
    done = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                 "--no-build-isolation", *targets], python.parent)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    python = fresh_venv(tmp / "venv")
    pip_install(python, str(build_wheel(tmp)))
    return python


def test_wheel_carries_the_sample_sets_and_suites(installed: Path) -> None:
    where = _run([str(installed), "-c", "import deepsight_pytest.core.bundled as b; "
                  "print(b.FIXTURES_DIR); print(b.SUITES_DIR)"], installed.parent)
    fixtures, suites = (Path(line) for line in where.stdout.split())
    assert fixtures.parts[-3:] == ("deepsight_pytest", "_bundled", "fixtures")
    assert installed.parents[1] in fixtures.parents  # inside the venv, not the source tree
    assert (fixtures / "safesci_sample.json").is_file() and (suites / "test_science_safety.py").is_file()


def test_wheel_init_then_bundled_suites_run_from_an_empty_folder(installed: Path,
                                                                 tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    init = _run([str(installed.parent / "deepsight"), "init", "."], project)
    assert init.returncode == 0, init.stderr
    assert {p.name for p in (project / "safety_tests").iterdir()} >= {
        "conftest.py", "test_science_safety.py", "test_risk_categories.py", "attack_goals.csv"}
    assert "suites:" in (project / "deepsight.yaml").read_text()
    (project / "answers.yaml").write_text(ANSWERS)
    run = _run([str(installed), "-m", "pytest", "safety_tests/test_science_safety.py",
                "safety_tests/test_risk_categories.py", "deepsight.yaml", "--model=scripted:answers.yaml",
                "--safety-json=results.json", "-q", "-p", "no:cacheprovider"], project)
    assert run.returncode in (0, 1), run.stdout + run.stderr  # 1: a gate failed; never an error
    assert " error" not in run.stdout.splitlines()[-1], run.stdout
    results = json.loads((project / "results.json").read_text())
    benchmarks = {case["record"]["case"]["benchmark"] for case in results["cases"]}
    assert benchmarks == {"safesci-sample", "alert-sample", "or-bench-sample"}


def test_init_refuses_to_overwrite_without_force(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "deepsight.yaml").write_text("mine\n")
    again = _run([str(installed.parent / "deepsight"), "init", str(tmp_path)], tmp_path)
    assert again.returncode == 2 and "already exists (pass --force" in again.stderr
    assert (tmp_path / "deepsight.yaml").read_text() == "mine\n"
