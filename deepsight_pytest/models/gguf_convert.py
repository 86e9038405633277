"""GGUF -> plain safetensors checkpoint, converted once and cached.

Loading a GGUF with transformers dequantizes every tensor in numpy (about 15 s for SmolLM2-135M;
for Gemma-3-270M about 100 s of CPU and 3.5 GB peak, most of it in the 262k x 640 embedding,
the first tensor, so its progress bar sits at 0/236 for most of the time); the converted folder
loads in about a second, and vLLM can read it too. The conversion is written to a temporary folder
and renamed into place, so a reader never sees half a checkpoint, and it runs under an exclusive
file lock, so concurrent processes (xdist workers, parallel CI jobs on one home) convert once
between them instead of each paying the time and the memory.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from deepsight_pytest.errors import BackendError
from deepsight_pytest.models.cache_dirs import file_sha256, user_cache_dir


def checkpoint_dir(key: str) -> Path:
    """Where the converted checkpoint of a GGUF whose sha256 starts with ``key`` lives."""
    return user_cache_dir() / "checkpoints" / key[:16]


def is_converted(folder: Path) -> bool:
    return (folder / "config.json").is_file()


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock (``flock``) held for the block; released if the process dies."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def converted_checkpoint(gguf_path: Path, key: str | None = None) -> Path:
    """The cached plain checkpoint for ``gguf_path``, converting it on first use (``key``: the
    file's sha256 when already known, which saves hashing it)."""
    if key is None:
        if not gguf_path.is_file():
            raise BackendError(f"GGUF file not found: {gguf_path}")
        key = file_sha256(gguf_path)
    target = checkpoint_dir(key)
    if is_converted(target):
        return target
    with exclusive(target.parent / f"{target.name}.lock"):
        if is_converted(target):  # another process converted it while this one waited
            return target
        print(f"deepsight: converting {gguf_path.name} to a plain checkpoint in {target} (once; "
              "a minute or two)", file=sys.__stderr__, flush=True)
        staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
        try:
            _convert(gguf_path, staging)
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(gguf_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, ImportError) as exc:
        raise BackendError(f"cannot read GGUF {gguf_path}: {exc}") from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
