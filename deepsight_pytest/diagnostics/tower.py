"""The language tower of a vision-language model, as the white-box diagnostics read it.

The diagnostics were written for causal LMs: tokenise a text, run the decoder blocks, read the
residual stream, take gradients with respect to the input embeddings. A VLM (``hf-vlm:``) has the
same decoder blocks in its language tower (``decoder_blocks`` finds them) but its input is not
the text's token embeddings: the processor expands each image placeholder into many image tokens
and the model scatters the vision encoder's features into their rows. So :class:`TowerTokenizer`,
what ``DeepScan.tokenizer`` is for a VLM, encodes a rendered prompt
(:class:`~deepsight_pytest.core.images.Prompt`, carrying its images) into the language tower's own
input: the expanded token ids and the merged embeddings, read by a pre-hook on the tower as the
VLM's forward calls it (so every family's own merging runs, whatever it is). Every pass then feeds
those embeddings to the tower's blocks; the attribution's gradient x input is taken on them, image
rows included, and :func:`attribution_spans` folds each image's run of tokens into one span.

Text (reference prompts, text cases) takes the same path without images. Everything else
(``decode``, ids, offsets) is the VLM's own text tokenizer.
"""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Sequence

from deepsight_pytest.core.images import prompt_images
from deepsight_pytest.diagnostics.base import DiagnosticError

if TYPE_CHECKING:
    from deepsight_pytest.diagnostics.capture import Encoded

IMAGE_LABEL = "<image>"


class _Merged(Exception):
    """Raised by the tower's pre-hook once it has the merged input embeddings."""


def language_tower(model: Any) -> Any:
    """The module that owns the decoder blocks (``Idefics3Model.text_model``, ``LlavaModel.language_model``, ...)."""
    from deepsight_pytest.diagnostics.capture import decoder_blocks

    blocks = decoder_blocks(model)
    for _, module in model.named_modules():
        if getattr(module, "layers", None) is blocks:
            return module
    raise DiagnosticError(f"cannot find the language tower of {type(model).__name__} (no module holds its decoder blocks)")


class TowerTokenizer:
    """The VLM's text tokenizer, plus the chat template and the image-aware encoding the
    diagnostics need (``encode_inputs``); attributes it does not set are the text tokenizer's."""

    def __init__(self, backend: Any) -> None:
        """``backend``: a ``models.vlm_backend.VisionLanguageBackend`` (its processor, model,
        ``render_messages`` and ``open_image``; not imported here, it imports this module)."""
        self._backend = backend
        self._text = backend.processor.tokenizer

    def __getattr__(self, name: str) -> Any:  # decode, pad_token_id, eos_token_id, bos_token, ...
        if name.startswith("__") or "_text" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self._text, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._text(*args, **kwargs)

    @property
    def padding_side(self) -> str:
        return str(self._text.padding_side)

    @padding_side.setter
    def padding_side(self, side: str) -> None:
        self._text.padding_side = side

    @property
    def chat_template(self) -> Any:
        return self._backend.processor.chat_template

    @property
    def image_token_id(self) -> int | None:
        """The placeholder the chat template writes once per image (expanded by the processor)."""
        processor = self._backend.processor
        token = getattr(processor, "image_token", None) or IMAGE_LABEL
        found = self._text.convert_tokens_to_ids(str(token))
        return None if found is None or found == self._text.unk_token_id else int(found)

    def apply_chat_template(self, messages: Sequence[Any], *, tokenize: bool = False,
                            add_generation_prompt: bool = False, **_: Any) -> str:
        """The backend's own rendering (its image placement), a Prompt carrying the images."""
        if tokenize:
            raise DiagnosticError("TowerTokenizer renders text only (tokenize=False)")
        return self._backend.render_messages(messages, generation_prompt=add_generation_prompt)

    def encode_inputs(self, texts: Sequence[str], device: Any, *, positions: Sequence[int] | None = None,
                      special_tokens: bool = False) -> "Encoded":
        """Left-padded expanded ids, mask and merged input embeddings of the tower, row by row
        (a processor takes images for every row of a call or for none)."""
        import torch

        from deepsight_pytest.diagnostics.capture import Encoded

        rows = [self._row(text, special_tokens) for text in texts]
        width = max(ids.shape[0] for ids, _, _ in rows)
        pad = self._text.pad_token_id if self._text.pad_token_id is not None else 0
        dim = rows[0][1].shape[-1]
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        embeds = torch.zeros(len(rows), width, dim, dtype=rows[0][1].dtype, device=rows[0][1].device)
        for r, (row_ids, row_embeds, _) in enumerate(rows):
            n = row_ids.shape[0]
            ids[r, width - n:] = row_ids.cpu()
            mask[r, width - n:] = 1
            embeds[r, width - n:] = row_embeds
        at = None
        if positions is not None:
            at = (width - mask.sum(1)) + torch.as_tensor(list(positions), dtype=torch.long)
        return Encoded(ids.to(device), mask.to(device), at, position_ids=_rotary_positions(rows, width, device),
                       inputs_embeds=embeds.to(device))

    def _row(self, text: str, special_tokens: bool) -> tuple[Any, Any, Any]:
        """One text's expanded ids ``(T,)``, merged embeddings ``(T, d)`` (detached) and, for a family
        with multimodal rotary positions (Qwen2-VL's M-RoPE: ``(k, 1, T)``, an image's tokens laid
        out on a time x height x width grid), the positions the VLM gave its tower; else None."""
        import torch

        backend = self._backend
        model = backend.model
        images = [backend.open_image(part) for part in prompt_images(text)]
        given: dict[str, Any] = {"images": [images]} if images else {}
        if special_tokens:
            given["add_special_tokens"] = True
        # the processor's own defaults otherwise: the ids the model saw when it generated
        batch = backend.processor(text=[str(text)], return_tensors="pt", **given).to(model.device)
        if "pixel_values" in batch and batch["pixel_values"].is_floating_point():
            batch["pixel_values"] = batch["pixel_values"].to(model.dtype)
        found: dict[str, Any] = {}

        def grab(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            found["embeds"] = kwargs.get("inputs_embeds")
            found["positions"] = kwargs.get("position_ids")
            raise _Merged

        handle = language_tower(model).register_forward_pre_hook(grab, with_kwargs=True)
        try:
            with torch.no_grad():
                model(**batch, use_cache=False)
        except _Merged:
            pass
        finally:
            handle.remove()
        embeds = found.get("embeds")
        if embeds is None:  # the family called its tower positionally: its own embeddings, without images
            if images:
                raise DiagnosticError(f"cannot read the merged input embeddings of {type(model).__name__}")
            embeds = model.get_input_embeddings()(batch["input_ids"])
        positions: Any = found.get("positions")
        if positions is not None and getattr(positions, "ndim", 0) == 3:  # (k, 1, T): multimodal RoPE
            return batch["input_ids"][0], embeds[0].detach(), positions[:, 0].detach()
        return batch["input_ids"][0], embeds[0].detach(), None


def _rotary_positions(rows: Sequence[tuple[Any, Any, Any]], width: int, device: Any) -> Any:
    """The batch's multimodal rotary positions ``(k, B, width)``, left-padded with 0, when a row has
    them (a text row in such a batch counts 0, 1, 2, ... on every axis, as the VLM gives text); None
    for families whose tower counts positions in one dimension (the mask decides those)."""
    import torch

    given = [p for _, _, p in rows if p is not None]
    if not given:
        return None
    k = given[0].shape[0]
    out = torch.zeros(k, len(rows), width, dtype=torch.long)
    for r, (row_ids, _, row_positions) in enumerate(rows):
        n = row_ids.shape[0]
        out[:, r, width - n:] = (row_positions.cpu() if row_positions is not None
                                 else torch.arange(n).expand(k, n))
    return out.to(device)


def attribution_spans(tokenizer: Any, prompt: str, ids: Sequence[int], scores: Sequence[float],
                      mask: Sequence[bool] | None) -> tuple[list[str], list[float], list[bool], list[int]]:
    """Displayed tokens, their scores, whether each is in the user's message, and how many model
    tokens each covers. A text prompt: one per token. A prompt with images (a VLM's expanded ids):
    each run of image tokens is one ``<image>`` span (its score the sum; in the user's message),
    the text tokens aligned with the unexpanded prompt's tokens (``mask`` is over those)."""
    tokens = [tokenizer.decode([i]) for i in ids]
    placeholder = getattr(tokenizer, "image_token_id", None) if prompt_images(prompt) else None
    if placeholder is None:
        flags = list(mask) if mask is not None and len(mask) == len(ids) else [True] * len(ids)
        return tokens, list(scores), flags, [1] * len(ids)
    plain = tokenizer(str(prompt), add_special_tokens=False)["input_ids"]
    source = _aligned(plain, list(ids), placeholder)
    image = _image_rows(source, list(ids), placeholder)
    plain_mask = list(mask) if mask is not None and len(mask) == len(plain) else None
    shown: list[str] = []
    total: list[float] = []
    inside: list[bool] = []
    widths: list[int] = []
    for position, (token, score) in enumerate(zip(tokens, scores)):
        if image[position]:
            if position > 0 and image[position - 1]:  # the same image's run goes on
                total[-1] += float(score)
                widths[-1] += 1
                continue
            token, within = IMAGE_LABEL, True  # the image is the user's input
        else:
            index = source[position]
            within = index is not None and (plain_mask is None or plain_mask[index])
        shown.append(token)
        total.append(float(score))
        inside.append(within)
        widths.append(1)
    return shown, total, inside, widths


def _image_rows(source: list[int | None], expanded: list[int], placeholder: int) -> list[bool]:
    """Unaligned runs that hold the placeholder token are images; other unaligned tokens (a BOS
    the processor adds) stay tokens."""
    image = [False] * len(expanded)
    start = 0
    while start < len(expanded):
        if source[start] is not None:
            start += 1
            continue
        end = start
        while end < len(expanded) and source[end] is None:
            end += 1
        if placeholder in expanded[start:end]:
            image[start:end] = [True] * (end - start)
        start = end
    return image


def _aligned(plain: list[int], expanded: list[int], placeholder: int) -> list[int | None]:
    """Per expanded position, the unexpanded token it is (text), or None (an image's tokens).

    The processor only replaces each placeholder with a run of tokens (the image tokens, and in
    some families tokens around them), so the text between placeholders matches token for token."""
    source: list[int | None] = [None] * len(expanded)
    matcher = difflib.SequenceMatcher(None, plain, expanded, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            if plain[block.a + k] != placeholder:
                source[block.b + k] = block.a + k
    return source
