"""Plugin start-up cost: a one-test pytest session with deepsight loaded vs ``-p no:deepsight``.

Runs PAIRS interleaved pairs (the order inside each pair alternates, so drift on a shared machine
hits both sides alike) of ``python -m pytest -q test_one.py`` in a throw-away folder and prints
the median of the per-pair wall-time ratios, and of the CPU-time ratios (user + system time of the
child: what the machine's other load changes least). Other third-party plugins are left as installed, the
same on both sides. Byte code is compiled once into a throw-away ``PYTHONPYCACHEPREFIX`` folder
(``PYTHONDONTWRITEBYTECODE`` is unset for the runs), as an installed package has it: otherwise every
run would compile the plugin's sources again, which no installed user pays. Usage::

    PYTHONPATH=$PWD python bench/startup.py [PAIRS]      # default 40
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORBIDDEN = ("jinja2", "yaml", "asyncio", "http.client", "urllib.request", "numpy", "torch", "transformers",
             "vllm", "deepsight_pytest.models.vllm_server", "deepsight_pytest.models.openai_backend")


def run_once(folder: Path, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the child) of one session."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_one.py"],
                   cwd=folder, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(pairs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n", encoding="utf-8")
        run_once(folder)  # warm the file cache and compile the byte code, both sides
        run_once(folder, "-p", "no:deepsight")
        ratios, cpu_ratios, on, off = [], [], [], []
        for i in range(pairs):
            if i % 2:
                t_off = run_once(folder, "-p", "no:deepsight")
                t_on = run_once(folder)
            else:
                t_on = run_once(folder)
                t_off = run_once(folder, "-p", "no:deepsight")
            on.append(t_on[0])
            off.append(t_off[0])
            ratios.append(t_on[0] / t_off[0])
            cpu_ratios.append(t_on[1] / t_off[1])
    code = ("import sys, deepsight_pytest.plugin; "
            f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    print(f"pairs: {pairs}; median wall with plugin {statistics.median(on):.3f}s, "
          f"with -p no:deepsight {statistics.median(off):.3f}s")
    print(f"start-up ratio (median of per-pair ratios): wall {statistics.median(ratios):.3f}x, "
          f"CPU time (user + system; steadier on a loaded machine) {statistics.median(cpu_ratios):.3f}x")
    print(f"forbidden modules after importing the plugin: {loaded}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
