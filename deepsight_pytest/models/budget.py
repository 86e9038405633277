"""Token budgets: batches for every in-process forward pass are formed by padded tokens, not rows.

A batch of ``rows`` prompts left-padded to ``width`` tokens, generating ``new`` tokens, holds
``rows * (width + new)`` token positions (key/value cache, activations): memory is linear in that
number once attention does not materialise the ``T x T`` matrix (``sdpa``). So long prompts go in
small batches and short prompts in large ones, and a prompt that does not fit even alone is
reported as too large instead of taking the machine down.

The budget is ``--safety-token-budget`` when given, else derived from the memory available now
(``psutil``: CPU; ``torch.cuda.mem_get_info``: CUDA) and a per-token cost estimated from the
model's config. On CUDA an out-of-memory error still halves the batch and retries
(:func:`run_halving`, accelerate's ``find_executable_batch_size``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")

#: Share of the currently available memory a batch may use (the rest: weights' copies, allocator
#: slack, other processes).
MEMORY_SHARE = 0.35
MIN_AUTO_TOKENS = 256
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


class TooLarge(Exception):
    """A single row does not fit the budget (or ran out of memory alone)."""


@dataclass(frozen=True)
class Batches:
    """Planned batches (indices into the input, longest first) and the rows too large to run."""

    groups: list[list[int]]
    too_large: list[int]


def plan_batches(lengths: Sequence[int], budget: int, *, new_tokens: int = 0, max_rows: int | None = None,
                 cost: float = 1.0) -> Batches:
    """Greedy batches of similar length: ``rows * (longest + new_tokens) * cost <= budget``.

    ``cost`` weighs a token position (1 for inference; more for a pass that keeps a graph).
    Rows come longest first, so each batch's first row sets its padded width; restore the order
    with the indices.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    too_large: list[int] = []
    current: list[int] = []
    width = 0
    for index in order:
        span = lengths[index] + new_tokens
        if span * cost > budget:
            too_large.append(index)
            continue
        if current:
            width = max(width, span)
            full = (len(current) + 1) * width * cost > budget or (max_rows is not None and len(current) >= max_rows)
            if not full:
                current.append(index)
                continue
            groups.append(current)
        current, width = [index], span
    if current:
        groups.append(current)
    return Batches(groups, too_large)


def available_bytes(device: str = "cpu") -> int:
    """Memory a batch could take now: free CUDA memory on a GPU, else the system's available RAM
    (``psutil``; ``/proc/meminfo`` when psutil is missing), capped by a cgroup limit if one is set."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        import psutil

        free = int(psutil.virtual_memory().available)
    except ImportError:
        free = _meminfo_available()
    return min(free, _cgroup_room())


def _meminfo_available() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 1 << 32


def _cgroup_room() -> int:
    """What the memory cgroup of this process still allows (v2 or v1), else unbounded."""
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),):
        try:
            text = open(limit_path).read().strip()
            if text != "max":
                return max(0, int(text) - int(open(usage_path).read()))
        except (OSError, ValueError):
            pass
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                parts = line.strip().split(":", 2)
                if len(parts) == 3 and "memory" in parts[1].split(","):
                    base = f"/sys/fs/cgroup/memory{parts[2]}"
                    limit = int(open(f"{base}/memory.limit_in_bytes").read())
                    usage = int(open(f"{base}/memory.usage_in_bytes").read())
                    if limit < 1 << 60:
                        return max(0, limit - usage)
    except (OSError, ValueError):
        pass
    return 1 << 62


def token_bytes(config: Any, dtype: str = "float32") -> int:
    """Estimated bytes one token position holds in an inference pass: its key/value cache over
    every layer plus one layer's transient activations (hidden, attention and MLP intermediates)."""
    text = getattr(config, "text_config", None) or config
    width = int(getattr(text, "hidden_size", 1024))
    layers = int(getattr(text, "num_hidden_layers", 24))
    heads = int(getattr(text, "num_attention_heads", 16))
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(text, "head_dim", None) or width // heads)
    inter = int(getattr(text, "intermediate_size", 4 * width))
    size = DTYPE_BYTES.get(dtype, 4)
    cache = 2 * layers * kv_heads * head_dim * size
    transient = (8 * width + 3 * inter + 2 * heads * head_dim) * size
    return cache + transient


def graph_cost(config: Any, graph_layers: int) -> float:
    """How many inference token positions one token of a gradient pass through ``graph_layers``
    blocks weighs. The pass checkpoints those blocks (``diagnostics/checkpointing.py``): each keeps
    its input (``hidden_size`` floats per token), and one block at a time recomputes and holds its
    intermediates during the backward pass; plus the input embeddings, their gradient and the
    hidden-state gradient in flight. (Without checkpointing autograd kept every block's
    intermediates, ``graph_layers`` times the second term: about 14 inference tokens per token on
    SmolLM2, which made a 2k-token prompt look like 30k tokens and skipped it.)"""
    text = getattr(config, "text_config", None) or config
    width = int(getattr(text, "hidden_size", 1024))
    inter = int(getattr(text, "intermediate_size", 4 * width))
    heads = int(getattr(text, "num_attention_heads", 16))
    head_dim = int(getattr(text, "head_dim", None) or width // heads)
    one_block = (12 * width + 4 * inter + 4 * heads * head_dim) * 4  # intermediates autograd saves, float32
    kept = (max(1, graph_layers) + 4) * width * 4  # block inputs, embeddings, their gradients
    return max(1.0, (one_block + kept) / token_bytes(config))


def auto_budget(config: Any, dtype: str, device: str) -> int:
    """Tokens per batch from the memory available now and the per-token estimate."""
    return max(MIN_AUTO_TOKENS, int(available_bytes(device) * MEMORY_SHARE / token_bytes(config, dtype)))


def is_oom(exc: BaseException) -> bool:
    """An out-of-memory error a smaller batch may avoid (accelerate's own test)."""
    from accelerate.utils.memory import should_reduce_batch_size

    return bool(should_reduce_batch_size(exc))


def run_halving(rows: list[int], run: Callable[[list[int]], list[T]]) -> list[T | TooLarge]:
    """``run`` over ``rows``; an out-of-memory error (CUDA, or the CPU allocator refusing) halves
    the sub-batch and retries, through accelerate's ``find_executable_batch_size``. A row that
    fails alone comes back as :class:`TooLarge`. (On the CPU the kernel's OOM killer usually comes
    first: there the budget is the guard.)"""
    from accelerate.utils import find_executable_batch_size

    results: list[T | TooLarge] = []
    start, size = 0, len(rows)
    while start < len(rows):
        done: list[T] = []
        state = {"size": size}

        def halve() -> int:
            state["size"] //= 2
            return state["size"]

        def attempt(batch_size: int) -> int:
            done[:] = run(rows[start : start + batch_size])
            return batch_size

        try:
            size = find_executable_batch_size(attempt, starting_batch_size=size, reduce_batch_size_fn=halve)()
        except RuntimeError as exc:
            if "No executable batch size found" not in str(exc):
                raise
            results.append(TooLarge("out of memory even alone"))
            start, size = start + 1, max(1, len(rows) - start - 1)
            continue
        results.extend(done)
        start += size
    return results
