"""Activation capture with forward hooks on the decoder blocks of a transformers causal LM.

Layer convention: ``hidden_states[0]`` is the embedding output, ``hidden_states[k+1]`` the
residual stream after decoder block ``k``. A forward hook on block ``k`` sees
``hidden_states[k+1]``; index 0 is read by a pre-hook on block 0 (its input). The last entry of
``hidden_states`` has the final norm applied in most families, a hook does not: index ``L`` here
is the pre-norm residual stream after the last block.

Hooks pool inside the forward pass (last token, mean over non-padding tokens, or one chosen
position per row), so one pass over a batch serves every diagnostic that needs the same
activations and never keeps ``(batch, tokens, d)`` for every layer. Capturing stops after the
deepest requested block unless gradients or generation need the rest.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from deepsight_pytest.diagnostics.base import DiagnosticError

#: Where decoder blocks live in the families we support (Llama, Qwen, Mistral, Gemma 1-3 text,
#: Gemma 3 multimodal, Phi, GPT-2 style, GPT-NeoX); a generic scan covers the rest.
BLOCK_PATHS = ("model.layers", "model.language_model.layers", "language_model.model.layers",
               "model.text_model.layers", "model.decoder.layers", "transformer.h", "gpt_neox.layers")
POOLS = ("last", "mean", "at")


def _attr_path(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def decoder_blocks(model: Any) -> Any:
    """The ``nn.ModuleList`` of decoder blocks, found by known paths, else by a generic scan."""
    import torch

    for path in BLOCK_PATHS:
        blocks = _attr_path(model, path)
        if isinstance(blocks, torch.nn.ModuleList) and len(blocks) > 0:
            return blocks
    config = getattr(model, "config", None)
    text_config = getattr(config, "text_config", None) or config
    count = getattr(text_config, "num_hidden_layers", None)
    lists = [m for _, m in model.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m) > 0]
    matching = [m for m in lists if count is None or len(m) == count]
    if not matching:
        raise DiagnosticError(f"cannot find the decoder blocks of {type(model).__name__} "
                              f"(looked at {', '.join(BLOCK_PATHS)} and every ModuleList)")
    return max(matching, key=len)


def block_count(model: Any) -> int:
    """L, the number of decoder blocks (``hidden_states`` has L + 1 entries)."""
    return len(decoder_blocks(model))


def default_layers(blocks: int) -> tuple[int, int]:
    """X-Boundary's default layers, ``int(L/3)`` and ``int(2L/3)``, as ``hidden_states`` indices."""
    return (blocks // 3, (2 * blocks) // 3)


def check_layers(layers: Sequence[int], blocks: int) -> tuple[int, ...]:
    """Validate ``hidden_states`` indices (negative counts from the end); sorted, unique."""
    resolved = []
    for layer in layers:
        index = int(layer) + (blocks + 1 if int(layer) < 0 else 0)
        if not 0 <= index <= blocks:
            raise DiagnosticError(f"layer {layer} is outside hidden_states[0..{blocks}] of this model")
        resolved.append(index)
    return tuple(sorted(set(resolved)))


def hidden_of(output: Any) -> Any:
    """A block's output hidden states (blocks return a tensor or a tuple, by family and version)."""
    return output[0] if isinstance(output, (tuple, list)) else output


@contextmanager
def layer_hook(model: Any, layer: int, fn: Callable[[Any], None]) -> Iterator[None]:
    """Call ``fn(hidden)`` with ``hidden_states[layer]`` on every forward pass of the model."""
    blocks = decoder_blocks(model)
    if layer == 0:
        def pre(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            fn(args[0] if args else kwargs["hidden_states"])

        handle = blocks[0].register_forward_pre_hook(pre, with_kwargs=True)
    else:
        handle = blocks[layer - 1].register_forward_hook(lambda _m, _i, out: fn(hidden_of(out)))
    try:
        yield
    finally:
        handle.remove()


class _Stop(Exception):
    """Raised by the deepest hook to skip the blocks no diagnostic reads."""


@dataclass
class Encoded:
    """A padded batch: ``positions[i]`` is the index (in the padded row) read by the ``at`` pool.

    ``attention_mask`` marks the real tokens of this batch (what pools average over). A batch that
    continues an earlier pass's cache also carries ``context_mask`` (cached + new tokens, what the
    model attends over) and its ``position_ids``. ``inputs_embeds``: the input embeddings when they
    are not the ids' token embeddings (a VLM's language tower: image features merged in, ``tower.py``).
    """

    input_ids: Any
    attention_mask: Any
    positions: Any = None
    context_mask: Any = None
    position_ids: Any = None
    inputs_embeds: Any = None

    def model_inputs(self) -> dict[str, Any]:
        """Attention mask and position ids for the model: positions count real tokens only, so a
        left-padded row sees the positions it would see alone (absolute-position models need it)."""
        mask = self.context_mask if self.context_mask is not None else self.attention_mask
        positions = self.position_ids
        if positions is None:
            positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        return {"attention_mask": mask, "position_ids": positions}


def pool(hidden: Any, encoded: Encoded, how: str) -> Any:
    """Pool ``(B, T, d)`` to ``(B, d)``: last token, masked mean, or each row's chosen position."""
    import torch

    if how == "last":  # left padding: the last column is every row's last real token
        return hidden[:, -1]
    if how == "mean":
        mask = encoded.attention_mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    if how == "at":
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return hidden[rows, encoded.positions.to(hidden.device)]
    raise DiagnosticError(f"unknown pooling {how!r}; known: {', '.join(POOLS)}")


class ActivationCapture:
    """Hooks on the blocks behind ``layers`` that pool each forward pass as it happens.

    ``keep_graph`` keeps the pooled tensors attached to the autograd graph (for attributions);
    otherwise they are detached, cast to float32 and moved to the CPU.
    """

    def __init__(self, model: Any, layers: Sequence[int], pools: Sequence[str] = ("last",), *,
                 keep_graph: bool = False, stop_early: bool = True) -> None:
        unknown = [p for p in pools if p not in POOLS]
        if unknown:
            raise DiagnosticError(f"unknown pooling {unknown[0]!r}; known: {', '.join(POOLS)}")
        self.model = model
        self.blocks = block_count(model)
        self.layers = check_layers(layers, self.blocks)
        self.pools = tuple(pools)
        self.keep_graph = keep_graph
        self.stop_early = stop_early  # with a graph too: backward needs only the blocks below
        self._encoded: Encoded | None = None
        self.results: dict[str, dict[int, Any]] = {}
        self.cache: Any = None  # the model's key/value cache of the last pass (keep_cache=True)

    def _hook(self, layer: int) -> Callable[[Any], None]:
        def record(hidden: Any) -> None:
            assert self._encoded is not None
            for how in self.pools:
                pooled = pool(hidden, self._encoded, how)
                self.results[how][layer] = pooled if self.keep_graph else pooled.detach().float().cpu()
            if self.stop_early and layer == self.layers[-1]:
                raise _Stop

        return record

    def forward(self, encoded: Encoded, inputs_embeds: Any = None, *, past: Any = None,
                keep_cache: bool = False) -> dict[str, dict[int, Any]]:
        """One forward pass of the base model (no LM head); returns ``{pool: {layer: (B, d)}}``.

        ``keep_cache`` keeps the pass's key/value cache in ``self.cache`` (public transformers API:
        ``past_key_values``) so that a later batch continuing these rows (``past=``) computes only
        its new tokens.
        """
        import torch

        self._encoded = encoded
        self.results = {how: {} for how in self.pools}
        self.cache = None
        if inputs_embeds is None:
            inputs_embeds = encoded.inputs_embeds
        base = getattr(self.model, "base_model", self.model)
        inputs = {"inputs_embeds": inputs_embeds} if inputs_embeds is not None else {"input_ids": encoded.input_ids}
        inputs.update(encoded.model_inputs())
        if past is not None:
            inputs[_cache_argument(base)] = past
        with _hooks(self.model, [(layer, self._hook(layer)) for layer in self.layers]):
            grad = torch.enable_grad() if self.keep_graph else torch.inference_mode()
            with grad:
                try:
                    outputs = base(**inputs, use_cache=keep_cache or past is not None)
                    if keep_cache:
                        found = getattr(outputs, "cache", None)  # newer name first: the old one warns
                        self.cache = found if found is not None else getattr(outputs, "past_key_values", None)
                except _Stop:
                    pass
        return self.results


def _cache_argument(base: Any) -> str:
    """The forward argument that takes a key/value cache: ``past_key_values``, or ``cache`` in the
    transformers releases that renamed it."""
    import inspect

    parameters = inspect.signature(base.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


@contextmanager
def _hooks(model: Any, hooks: list[tuple[int, Callable[[Any], None]]]) -> Iterator[None]:
    if not hooks:
        yield
        return
    (layer, fn), rest = hooks[0], hooks[1:]
    with layer_hook(model, layer, fn), _hooks(model, rest):
        yield


@contextmanager
def frozen(model: Any, trainable: Sequence[Any] = ()) -> Iterator[None]:
    """Only ``trainable`` tensors require gradients inside the block (weights restored after)."""
    saved = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    for tensor in trainable:
        tensor.requires_grad_(True)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)
            p.grad = None


# -- text helpers --------------------------------------------------------------------------------
def render_conversation(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    """The chat template of a whole conversation, without a generation prompt."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=False)
    from deepsight_pytest.models.transformers_backend import plain_text

    return plain_text([dict(m) for m in messages], generation_prompt=False, bos=getattr(tokenizer, "bos_token", None) or "")


def encode(tokenizer: Any, texts: Sequence[str], device: Any, *, positions: Sequence[int] | None = None,
           special_tokens: bool = False) -> Encoded:
    """Tokenise with left padding; ``positions`` index each unpadded text and are shifted by its padding.
    A tokenizer with its own ``encode_inputs`` (a VLM's, ``tower.py``) encodes the texts itself."""
    import torch

    own = getattr(tokenizer, "encode_inputs", None)
    if own is not None:
        return own(texts, device, positions=positions, special_tokens=special_tokens)  # type: ignore[no-any-return]

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        batch = tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=special_tokens)
    finally:
        tokenizer.padding_side = side
    ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    at = None
    if positions is not None:
        pad = (mask.shape[1] - mask.sum(1)).cpu()
        at = pad + torch.as_tensor(list(positions), dtype=torch.long)
    return Encoded(ids, mask, at)


def token_lengths(tokenizer: Any, texts: Sequence[str], special_tokens: bool = False) -> list[int]:
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=special_tokens)["input_ids"]]


def capture_texts(model: Any, tokenizer: Any, texts: Sequence[str], layers: Sequence[int],
                  pools: Sequence[str] = ("last",), *, batch_size: int = 16,
                  positions: Sequence[int] | None = None, special_tokens: bool = False,
                  token_budget: int | None = None) -> dict[str, dict[int, Any]]:
    """Pooled activations of many texts, batched by similar length; rows in the order given.

    Batches hold at most ``batch_size`` rows and ``token_budget`` padded tokens (None: rows only).
    Returns ``{pool: {layer: (N, d) float32 CPU tensor}}``; a text too long for the budget even
    alone raises :class:`DiagnosticError` (callers that can skip rows filter them first).
    """
    import torch

    from deepsight_pytest.models.budget import plan_batches, run_halving, TooLarge

    capture = ActivationCapture(model, layers, pools)
    lengths = token_lengths(tokenizer, texts, special_tokens)
    plan = plan_batches(lengths, token_budget or (1 << 62), max_rows=max(1, batch_size))
    if plan.too_large:
        raise DiagnosticError(f"a text of {lengths[plan.too_large[0]]} tokens does not fit the token budget "
                              f"{token_budget}")
    order = [i for group in plan.groups for i in group]
    parts: dict[str, dict[int, list[Any]]] = {how: {layer: [] for layer in capture.layers} for how in pools}
    device = next(model.parameters()).device

    def run(rows: list[int]) -> list[dict[str, dict[int, Any]]]:
        encoded = encode(tokenizer, [texts[i] for i in rows], device, special_tokens=special_tokens,
                         positions=None if positions is None else [positions[i] for i in rows])
        out = capture.forward(encoded)
        return [{how: {layer: out[how][layer][r] for layer in capture.layers} for how in pools}
                for r in range(len(rows))]

    for group in plan.groups:
        for row in run_halving(group, run):
            if isinstance(row, TooLarge):
                raise DiagnosticError(f"out of memory on one text alone: {row}")
            for how in pools:
                for layer in capture.layers:
                    parts[how][layer].append(row[how][layer])
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.as_tensor(order, dtype=torch.long)] = torch.arange(len(order))
    return {how: {layer: torch.stack(rows)[inverse] for layer, rows in by_layer.items()}
            for how, by_layer in parts.items()}
