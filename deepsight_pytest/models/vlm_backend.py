"""``hf-vlm:<path or id>``: transformers image-text-to-text models (Idefics3 / SmolVLM, LLaVA, Qwen2-VL).

The processor's chat template renders each conversation with an image placeholder where each image
goes (``?image=before`` (default) puts a message's images before its text, ``after`` after it,
``case`` keeps the case's order: MSSBench notes that Qwen-family models want the image first). The
rendered text is a :class:`~deepsight_pytest.core.images.Prompt` that carries the image parts, so the
response key covers their hashes. Generation is batched (prompts with images apart from those
without, as processors want one or the other per call), left-padded, greedy unless sampling. An
image file gone or unreadable at generation is that case's error; the rest of its batch goes on.

torch, transformers and Pillow are imported on first use. Other options: ``dtype`` (float32),
``device`` (auto).
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Sequence

from deepsight_pytest.errors import BackendError, DataError, SpecError
from deepsight_pytest.core.images import Prompt, is_image, place_images, prompt_images, read_image
from deepsight_pytest.records import Message, Response
from deepsight_pytest.core.sanitize import mask_spec
from deepsight_pytest.models.base import GenerationSettings, ModelBackend
from deepsight_pytest.models.transformers_backend import local_fingerprint
from deepsight_pytest.models.base import ModelSpec

POSITIONS = ("before", "after", "case")
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json", "special_tokens_map.json")
#: end-of-turn tokens of the supported families, besides the tokenizer's eos
END_OF_TURN = ("<end_of_utterance>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>")


def hf_parts(content: Any, position: str) -> list[dict[str, Any]]:
    """A message's content as the processors' chat templates take it: ``{"type": "text", ...}``
    and a bare ``{"type": "image"}`` placeholder per image (the pixels go to the processor)."""
    if not isinstance(content, (list, tuple)):
        return [{"type": "text", "text": str(content)}]
    return [{"type": "image"} if is_image(p) else {"type": "text", "text": str(p.get("text", ""))}
            for p in place_images(content, position)]


def render_parts(processor: Any, messages: Sequence[Message], position: str, generation_prompt: bool = True) -> str:
    """The processor's chat template over ``messages``, an image placeholder where each image goes
    (``position``); a :class:`Prompt` carrying the images in that order when there are any
    (``vllm:`` renders image-text checkpoints the same way)."""
    conversation = [{"role": m["role"], "content": hf_parts(m["content"], position)} for m in messages]
    text = processor.apply_chat_template(conversation, add_generation_prompt=generation_prompt, tokenize=False)
    ordered = [p for m in messages for p in place_images(m["content"], position) if is_image(p)]
    return Prompt(text, ordered) if ordered else text


def processor_digest(folder: Path) -> str:
    """sha256 of the image processor's files in a checkpoint folder: they decide the pixels the model sees."""
    digest = hashlib.sha256()
    for name in PROCESSOR_FILES:
        if (folder / name).is_file():
            digest.update(name.encode() + (folder / name).read_bytes())
    return digest.hexdigest()[:16]


def load_processor(spec: str, source: str) -> Any:
    """``AutoProcessor`` of a checkpoint, left-padding, with a chat template (else one-line errors)."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise BackendError(f"{mask_spec(spec)}: cannot load the processor from {source}: "
                           f"{' '.join(str(exc).split())[:300]}") from None
    if getattr(processor, "chat_template", None) is None:
        raise BackendError(f"{mask_spec(spec)}: the processor in {source} has no chat template")
    processor.tokenizer.padding_side = "left"
    if processor.tokenizer.pad_token is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    return processor


def open_images(prompt: str) -> list[Any]:
    """The prompt's images as RGB PIL images, in order (a DataError for a missing or bad file)."""
    return [_open(part) for part in prompt_images(prompt)]


class VisionLanguageBackend(ModelBackend):
    """An image-text-to-text model through ``AutoProcessor`` + ``AutoModelForImageTextToText``."""

    has_weights = True  # white-box diagnostics read the language tower (``diagnostics/tower.py``)
    sees_images = True

    def __init__(self, spec: str, source: str, *, position: str = "before", dtype: str = "float32",
                 device: str = "auto") -> None:
        self.spec, self.source, self.position, self.dtype, self.device = spec, source, position, dtype, device
        self.loaded_on: str | None = None
        self._fingerprint: str | None = None
        self._processor: Any = None
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            path = Path(self.source)
            if path.is_dir():
                digest = hashlib.sha256(local_fingerprint(path).encode())
                for name in PROCESSOR_FILES:  # the image processor decides the pixels the model sees
                    if (path / name).is_file():
                        digest.update(name.encode() + (path / name).read_bytes())
                base = digest.hexdigest()[:16]
            else:
                base = self.source
            self._fingerprint = f"vlm:{base}:{self.dtype}"
        return self._fingerprint

    @property
    def processor(self) -> Any:
        if self._processor is None:
            self._processor = load_processor(self.spec, self.source)
        return self._processor

    @property
    def model(self) -> Any:
        if self._model is None:
            import torch
            from transformers import AutoModelForImageTextToText

            device = self.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            try:
                model = AutoModelForImageTextToText.from_pretrained(self.source, dtype=getattr(torch, self.dtype))
            except (OSError, ValueError) as exc:
                raise BackendError(f"{mask_spec(self.spec)}: cannot load an image-text-to-text model from "
                                   f"{self.source}: {' '.join(str(exc).split())[:300]}") from None
            self._model = model.to(device).eval()
            self.loaded_on = str(self._model.device)
        return self._model

    def ready(self) -> None:
        self.model  # noqa: B018  (loads the weights before the engine times generation)

    @property
    def tokenizer(self) -> Any:
        """What the white-box diagnostics tokenise with: the text tokenizer, plus the chat template
        and the language tower's image-aware inputs (``diagnostics/tower.py``)."""
        if self._tokenizer is None:
            from deepsight_pytest.diagnostics.tower import TowerTokenizer

            self._tokenizer = TowerTokenizer(self)
        return self._tokenizer

    def render(self, messages: Sequence[Message]) -> str:
        return self.render_messages(messages, generation_prompt=True)

    def render_messages(self, messages: Sequence[Message], *, generation_prompt: bool) -> str:
        """The chat template over these messages (a Prompt carrying their images, if any); without
        the generation prompt it is the conversation the diagnostics pool."""
        return render_parts(self.processor, messages, self.position, generation_prompt)

    @staticmethod
    def open_image(part: dict[str, str]) -> Any:
        return _open(part)

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> list[Response]:
        """Batches of at most ``batch_size`` (with images apart from without); order restored."""
        results: list[Response | None] = [None] * len(prompts)
        pictures: dict[int, list[Any]] = {}
        for index, prompt in enumerate(prompts):
            try:
                pictures[index] = [_open(part) for part in prompt_images(prompt)]
            except DataError as exc:  # this case's error; its batch goes on without it
                results[index] = Response("", 0, "error", 0.0, self.fingerprint, error=str(exc))
        for group in ([i for i in pictures if pictures[i]], [i for i in pictures if not pictures[i]]):
            for start in range(0, len(group), max(1, batch_size)):
                rows = group[start:start + max(1, batch_size)]
                answers = self._generate_batch([prompts[i] for i in rows], [pictures[i] for i in rows], settings)
                for index, answer in zip(rows, answers):
                    results[index] = answer
        return [r for r in results if r is not None]

    def _generate_batch(self, texts: list[str], images: list[list[Any]], settings: GenerationSettings) -> list[Response]:
        import torch

        processor, model = self.processor, self.model
        given = {"images": images} if any(images) else {}
        encoded = processor(text=[str(t) for t in texts], return_tensors="pt", padding=True, **given).to(model.device)
        if "pixel_values" in encoded and encoded["pixel_values"].is_floating_point():
            encoded["pixel_values"] = encoded["pixel_values"].to(model.dtype)
        sampling: dict[str, Any] = {"do_sample": False}
        if settings.sampling:  # seeded per batch: the K answers of a prompt differ, each reproducible
            torch.manual_seed(settings.sample_seed)
            sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0}
        tokenizer = processor.tokenizer
        started = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(**encoded, max_new_tokens=settings.max_new_tokens,
                                    pad_token_id=tokenizer.pad_token_id, **sampling)
        latency = time.perf_counter() - started
        new_tokens = output[:, encoded["input_ids"].shape[1]:]
        stops = self._stop_ids()
        out = []
        for row in new_tokens.tolist():
            length = next((i for i, t in enumerate(row) if t in stops), len(row))
            out.append(Response(text=tokenizer.decode(row[:length], skip_special_tokens=True).strip(), tokens=length,
                                finish_reason="stop" if length < len(row) else "length",
                                latency_s=round(latency, 4), model=self.fingerprint))
        return out

    def _stop_ids(self) -> set[int]:
        tokenizer = self.processor.tokenizer
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id, tokenizer.pad_token_id}
        vocab = tokenizer.get_vocab()
        ids |= {vocab[t] for t in END_OF_TURN if t in vocab}
        return {i for i in ids if i is not None}

    def describe(self) -> dict[str, Any]:
        where = {"device": self.loaded_on} if self.loaded_on else {}
        return {**super().describe(), "source": self.source, "dtype": self.dtype, "image_position": self.position,
                **where}

    def close(self) -> None:
        self._model = None
        self._processor = None
        self._tokenizer = None


def _open(part: dict[str, str]) -> Any:
    """The image as an RGB PIL image; a missing, unreadable or unsupported file is a DataError."""
    import io

    from PIL import Image

    data, _ = read_image(part["path"])
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except OSError as exc:
        raise DataError(f"cannot decode image {part['path']} ({exc})") from None


def make_hf_vlm(spec: ModelSpec) -> VisionLanguageBackend:
    """``hf-vlm:<path or id>?image=before|after|case&dtype=...&device=...``."""
    if not spec.arg:
        raise SpecError("model 'hf-vlm:' needs a path or hub id, e.g. hf-vlm:./my-vlm or "
                        "hf-vlm:HuggingFaceTB/SmolVLM-256M-Instruct")
    unknown = set(spec.options) - {"image", "dtype", "device"}
    if unknown:
        raise SpecError(f"model {mask_spec(spec.text)!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                        "known: device, dtype, image")
    position = spec.options.get("image", "before")
    if position not in POSITIONS:
        raise SpecError(f"model {mask_spec(spec.text)!r}: option image must be one of {', '.join(POSITIONS)}, "
                        f"got {position!r}")
    path = Path(spec.arg).expanduser()
    looks_local = path.exists() or spec.arg.startswith((".", "/", "~"))
    if looks_local and not (path / "config.json").is_file():
        raise SpecError(f"model {mask_spec(spec.text)!r}: no config.json in {path}")
    return VisionLanguageBackend(spec.text, str(path.resolve()) if looks_local else spec.arg, position=position,
                                 dtype=spec.options.get("dtype", "float32"), device=spec.options.get("device", "auto"))
