"""In-process transformers backend: chat template, left padding, length-sorted greedy batches.

torch and transformers are imported on first use, never when the plugin loads.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Sequence

from deepsight_pytest.errors import BackendError
from deepsight_pytest.records import Message, Response
from deepsight_pytest.models.base import GenerationSettings, ModelBackend
from deepsight_pytest.models.cache_dirs import file_sha256
from deepsight_pytest.core.sanitize import mask_spec

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json")


def local_fingerprint(folder: Path) -> str:
    """sha256 over the tokenizer/config files and the content hash of every weight file."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name in TOKENIZER_FILES:
            digest.update(path.name.encode() + path.read_bytes())
        elif path.suffix in WEIGHT_SUFFIXES:
            digest.update(path.name.encode() + file_sha256(path).encode())
    return digest.hexdigest()[:16]


class TransformersBackend(ModelBackend):
    """A causal LM loaded with ``AutoModelForCausalLM`` from a local folder or a hub id."""

    has_weights = True

    def __init__(self, spec: str, source: str, *, dtype: str = "float32", device: str = "auto",
                 fingerprint: str | None = None) -> None:
        self.spec = spec
        self.source = source
        self.dtype = dtype
        self.device = device
        self.loaded_on: str | None = None  # the device the weights went to, once loaded
        self._fingerprint = fingerprint
        self._tokenizer: Any = None
        self._model: Any = None
        self.token_budget: int | None = None  # padded tokens per forward batch; None: from free memory
        # diagnostics.generation_states.StateRecorder while a suite generates with --diagnose on: the
        # per-failure diagnostics' states are captured by hooks during generate (no second pass)
        self.recorder: Any = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            path = Path(self.source)
            base = local_fingerprint(path) if path.is_dir() else self.source
            self._fingerprint = f"{base}:{self.dtype}"
        return self._fingerprint

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.source)
            except (OSError, ValueError) as exc:
                raise BackendError(f"{mask_spec(self.spec)}: cannot load tokenizer from {self.source}: {exc}") from None
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            self._tokenizer = tokenizer
        return self._tokenizer

    @property
    def model(self) -> Any:
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            device = self.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            try:
                model = _load(AutoModelForCausalLM, self.source, getattr(torch, self.dtype))
            except (OSError, ValueError) as exc:
                raise BackendError(f"{mask_spec(self.spec)}: cannot load model from {self.source}: {exc}") from None
            self._model = model.to(device).eval()
            self.loaded_on = str(self._model.device)  # what reports show ("auto" resolved)
        return self._model

    def ready(self) -> None:
        self.model  # noqa: B018  (loads the weights before the engine times generation)

    def render(self, messages: Sequence[Message]) -> str:
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return plain_text(messages, generation_prompt=True, bos=getattr(tokenizer, "bos_token", None) or "")

    def budget(self) -> int:
        """Padded tokens one forward batch may hold: ``--safety-token-budget``, else from free memory."""
        if self.token_budget is not None:
            return self.token_budget
        from deepsight_pytest.models.budget import auto_budget

        return auto_budget(self.model.config, self.dtype, str(self.model.device))

    def generate(self, prompts: Sequence[str], settings: GenerationSettings,
                 batch_size: int) -> list[Response]:
        """Generate in batches of similar length (longest first) bounded by the token budget
        (prompt + new tokens, padded) and by ``batch_size`` rows; order restored. A prompt that
        does not fit alone gets a ``too_large`` response (its test is skipped, nothing crashes)."""
        from deepsight_pytest.models.budget import TooLarge, plan_batches, run_halving

        lengths = [len(ids) for ids in self.tokenizer(list(prompts), add_special_tokens=False).input_ids]
        budget = self.budget()
        plan = plan_batches(lengths, budget, new_tokens=settings.max_new_tokens, max_rows=batch_size)
        results: list[Response | None] = [None] * len(prompts)
        for index in plan.too_large:
            results[index] = too_large_response(self.fingerprint, lengths[index] + settings.max_new_tokens, budget)
        for group in plan.groups:
            answers = run_halving(group, lambda rows: self._generate_batch([prompts[i] for i in rows], settings))
            for index, answer in zip(group, answers):
                results[index] = (too_large_response(self.fingerprint, lengths[index] + settings.max_new_tokens, budget)
                                  if isinstance(answer, TooLarge) else answer)
        return [r for r in results if r is not None]

    def _generate_batch(self, prompts: list[str], settings: GenerationSettings) -> list[Response]:
        import torch

        tokenizer, model = self.tokenizer, self.model
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        sampling: dict[str, Any] = {"do_sample": False}
        if settings.sampling:  # seeded per batch: the K answers of a prompt differ, each reproducible
            torch.manual_seed(settings.sample_seed)
            sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p,
                        "top_k": 0}  # no hidden top-k cut besides the nucleus (transformers defaults to 50)
        recorder = self.recorder if self.recorder is not None and self.recorder.wants(prompts) else None
        started = time.perf_counter()
        with torch.inference_mode():
            if recorder is None:
                output = model.generate(**encoded, max_new_tokens=settings.max_new_tokens,
                                        pad_token_id=tokenizer.pad_token_id, **sampling)
                sequences, cache = output, None
            else:
                with recorder.batch(model, encoded.attention_mask) as found:
                    output = model.generate(**encoded, max_new_tokens=settings.max_new_tokens,
                                            pad_token_id=tokenizer.pad_token_id, return_dict_in_generate=True,
                                            **sampling)
                sequences, cache = output.sequences, output.past_key_values
        latency = time.perf_counter() - started
        new_tokens = sequences[:, encoded.input_ids.shape[1]:]
        responses = [self._response(row, latency) for row in new_tokens.tolist()]
        if recorder is not None:
            try:
                with torch.inference_mode():
                    recorder.complete(found, model, tokenizer, prompts, encoded.input_ids, new_tokens,
                                      [r.text for r in responses], cache)
            except Exception as exc:  # noqa: BLE001  (an optimisation: diagnostics then run their own passes)
                recorder.failed(exc)
        return responses

    def _stop_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos])
        ids |= {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        return {i for i in ids if i is not None}

    def _response(self, token_ids: list[int], latency: float) -> Response:
        stops = self._stop_ids()
        length = next((i for i, t in enumerate(token_ids) if t in stops), len(token_ids))
        text = self.tokenizer.decode(token_ids[:length], skip_special_tokens=True)
        if not getattr(self.tokenizer, "chat_template", None):  # a base model writes the next turn too
            text = text.split(PLAIN_NEXT_TURN, 1)[0].strip()
        return Response(text=text, tokens=length, finish_reason="stop" if length < len(token_ids) else "length",
                        latency_s=round(latency, 4), model=self.fingerprint)

    def describe(self) -> dict[str, Any]:
        where = {"device": self.loaded_on} if self.loaded_on else {}  # only when weights were loaded
        return {**super().describe(), "source": self.source, "dtype": self.dtype, **where}

    def close(self) -> None:
        self._model = None


TOO_LARGE = "too_large"
PLAIN_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
PLAIN_NEXT_TURN = "\nUser:"


def plain_text(messages: Sequence[Message], generation_prompt: bool, bos: str = "") -> str:
    """A base model's prompt format, for tokenizers without a chat template (Gemma-3-270M base):
    ``User: ...`` / ``Assistant: ...`` turns separated by blank lines, ending with ``Assistant:``
    when the model is to answer. Its answer is cut where it starts writing the next user turn.
    ``bos``: the tokenizer's begin-of-sequence token, written first (prompts are encoded without
    special tokens, as a chat template includes its own; Gemma without ``<bos>`` answers
    "<h2><h2>..." instead of "The capital of France is Paris.")."""
    turns = [f"{PLAIN_ROLES.get(m['role'], m['role'].title())}: {m['content']}" for m in messages]
    if generation_prompt:
        turns.append("Assistant:")
    return bos + "\n\n".join(turns)


def too_large_response(fingerprint: str, tokens: int, budget: int) -> Response:
    """The response of a case that cannot run even alone (never cached: a larger budget retries it)."""
    reason = (f"does not fit the token budget: {tokens} tokens (prompt + new tokens) > {budget} "
              "(raise --safety-token-budget, or free memory)")
    return Response("", 0, TOO_LARGE, 0.0, fingerprint, error=reason)


def _load(auto: Any, source: str, dtype: Any) -> Any:
    """The model with an attention that never materialises the ``T x T`` matrix (``sdpa``) where
    its family supports it, else the family's default."""
    try:
        return auto.from_pretrained(source, dtype=dtype, attn_implementation="sdpa")
    except ValueError as exc:
        if "sdpa" not in str(exc).lower() and "attention" not in str(exc).lower():
            raise
        return auto.from_pretrained(source, dtype=dtype)
