"""The wheel as a user gets it: its size, a cold install into a fresh virtual environment, and the
bundled suites run from an empty folder (``deepsight init`` then pytest), timed in one run.

The fresh environment reaches this environment's dependencies (torch, transformers, ...) through
a path file, so the install timed is this package's own (``--no-deps``): what a user who already
has the ML stack pays. The suites run on the embedded SmolLM2 (``--model`` to change) with a small
``--safety-sample`` so the figure stays minutes, not the main job's.

    python bench/wheel.py [--model smollm2] [--sample 2] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
# the wheel test's own steps (copy the tree, build; a fresh venv seeing this one's dependencies)
from test_packaging import build_wheel, fresh_venv, pip_install  # noqa: E402


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTEST_ADDOPTS"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=_env(), text=True, capture_output=True, timeout=3600)
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(args[:4])} ... exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start, done


def _timed(step: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = step()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--sample", type=int, default=2, help="cases per suite (--safety-sample)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the real data sets the suites read (--safety-data), as a user has them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        build_s, wheel = _timed(lambda: build_wheel(tmp))
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
        wheel_mb, wheel_name = wheel.stat().st_size / 1e6, wheel.name
        python = fresh_venv(tmp / "venv")
        install_s, _ = _timed(lambda: pip_install(python, str(wheel)))
        project = tmp / "project"
        project.mkdir()
        init_s, _ = _run([str(tmp / "venv" / "bin" / "deepsight"), "init", "."], project)
        suite_s, run = _run([str(python), "-m", "pytest", "safety_tests", f"--model={args.model}",
                             f"--safety-sample={args.sample}", f"--safety-data={args.data.resolve()}", "--safety-json=results.json",
                             "--safety-report=report.html", "-q", "-p", "no:cacheprovider"], project)
        results = json.loads((project / "results.json").read_text())
        benchmarks = sorted({case["record"]["case"]["benchmark"] for case in results["cases"]})
    print(f"wheel: {wheel_name}, {wheel_mb:.2f} MB, {len(names)} files "
          f"({sum(n.startswith('deepsight_pytest/_bundled/') for n in names)} bundled sample/suite files)")
    print(f"build {build_s:.1f} s; install into a fresh venv (--no-deps) {install_s:.1f} s; "
          f"deepsight init {init_s:.1f} s")
    print(f"bundled suites from an empty folder on {args.model}, {args.sample} case(s) per suite: "
          f"{suite_s:.1f} s, exit {run.returncode}, {len(results['cases'])} cases over "
          f"{len(benchmarks)} benchmarks; last line: {run.stdout.strip().splitlines()[-1]}")
    root = sorted(p.name for p in (ROOT / "deepsight_pytest").glob("*.py"))
    print(f"package root: {len(root)} modules ({', '.join(root)})")


if __name__ == "__main__":
    main()
