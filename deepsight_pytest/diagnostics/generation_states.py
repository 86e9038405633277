"""What the per-failure diagnostics read, captured while the in-process model generates.

Without this, diagnosing a failure ran the prompt through the model again (its last-token state at
every layer) and then the whole conversation (its mean-pooled state at the X-Boundary layers):
two forward passes the generation had already done. Here hooks on the decoder blocks record,
during ``generate``:

* the **prefill** (every prompt token at once): each row's last-token state at every
  ``hidden_states`` index (``refusal_direction``) and its sum over the real prompt tokens at the
  X-Boundary layers;
* each **decode step** (one fed token per row): that token's state at the X-Boundary layers.

The conversation the diagnostics pool is the chat template of the prompt's messages plus the
answer (no generation prompt): the prompt's tokens, the answer's, and the template's end-of-turn
tokens. Generation never feeds the last generated token nor those end tokens, and a re-tokenised
answer may differ from the generated ids. So after ``generate`` one short pass continues the
generation's own key/value cache with each row's remaining tokens (those after the longest common
prefix of the conversation's ids and the fed ids; the cached positions beyond that prefix are
masked), stopping at the deepest X-Boundary layer. Its sums complete the means.

Per case this keeps ``(L + 1) x d`` values in the model's dtype (the same numbers the separate
pass cast to float32) and ``len(layers) x d`` float32 means: 76 KB for SmolLM2-135M in float32.
The engine drops them once the suite's diagnostics are attached. A row whose conversation does not
start with its prompt's tokens gets no states (its diagnostics run the separate passes).
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from deepsight_pytest.diagnostics.capture import (
    ActivationCapture,
    Encoded,
    block_count,
    default_layers,
    layer_hook,
    render_conversation,
)


@dataclass(frozen=True)
class CaseStates:
    """One generated answer's readings: what the separate prompt and conversation passes gave."""

    last: Any  # (L + 1, d), the model's dtype, CPU: the prompt's last-token state per hidden_states index
    mean: dict[int, Any]  # X-Boundary layer -> (d,) float32 CPU: the conversation's mean-pooled state

    @property
    def nbytes(self) -> int:
        return int(self.last.nbytes) + sum(int(t.nbytes) for t in self.mean.values())


@dataclass
class _Batch:
    """The hooks' findings for one generate call (on the model's device until it completes)."""

    mask: Any  # (B, W) the prompts' attention mask
    last: dict[int, Any] = field(default_factory=dict)  # layer -> (B, d)
    prompt_sum: dict[int, Any] = field(default_factory=dict)  # layer -> (B, d) float32
    steps: dict[int, list[Any]] = field(default_factory=dict)  # layer -> per decode step (B, d) float32
    calls: dict[int, int] = field(default_factory=dict)


class StateRecorder:
    """Installed on a :class:`~..models.transformers_backend.TransformersBackend` (``recorder``)
    while a suite generates; ``states`` maps ``(rendered prompt, answer text)`` to its readings.

    ``messages`` maps each rendered prompt to the chat messages it came from (the conversation is
    rendered from them); prompts it does not know (later turns of a multi-turn case) are skipped.
    """

    def __init__(self, messages: Mapping[str, Sequence[Mapping[str, str]]],
                 mean_layers: Sequence[int] | None = None) -> None:
        self.messages = dict(messages)
        self.mean_layers = tuple(mean_layers) if mean_layers is not None else None
        self.states: dict[tuple[str, str], CaseStates] = {}
        self.errors: list[BaseException] = []

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.states.values())

    def failed(self, exc: BaseException) -> None:
        """The capture of one batch failed (a family whose cache this pass cannot continue, memory):
        its answers stand, their diagnostics run the separate passes; said once per suite."""
        if not self.errors:
            import warnings

            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            warnings.warn(f"deepsight: states for the diagnostics not captured during generation ({message}); "
                          "the diagnostics run their own passes", RuntimeWarning, stacklevel=2)
        self.errors.append(exc)

    def wants(self, prompts: Sequence[str]) -> bool:
        return any(p in self.messages for p in prompts)

    @contextmanager
    def batch(self, model: Any, attention_mask: Any) -> Iterator[_Batch]:
        """Hooks that record one ``generate`` call's prefill and decode steps."""
        blocks = block_count(model)
        if self.mean_layers is None:
            self.mean_layers = default_layers(blocks)
        found = _Batch(attention_mask)
        last_layers = range(blocks + 1)
        mean_layers = set(self.mean_layers)
        mask = attention_mask.unsqueeze(-1).float()

        def hook(layer: int) -> Any:
            def record(hidden: Any) -> None:
                call = found.calls.get(layer, 0)
                found.calls[layer] = call + 1
                if call == 0:  # the prefill: every prompt token
                    found.last[layer] = hidden[:, -1].detach().clone()
                    if layer in mean_layers:
                        found.prompt_sum[layer] = (hidden.detach().float() * mask).sum(1)
                        found.steps[layer] = []
                elif layer in mean_layers:  # a decode step: the token fed at this step
                    found.steps[layer].append(hidden[:, -1].detach().float())

            return record

        with ExitStack() as stack:
            for layer in last_layers:
                stack.enter_context(layer_hook(model, layer, hook(layer)))
            yield found

    def complete(self, found: _Batch, model: Any, tokenizer: Any, prompts: Sequence[str], prompt_ids: Any,
                 generated: Any, texts: Sequence[str], cache: Any) -> None:
        """Finish the means with the conversations' remaining tokens and keep each row's states.

        ``prompt_ids`` (B, W) left-padded, ``generated`` (B, N) the new ids, ``texts`` the answers
        as the responses hold them, ``cache`` the generation's key/value cache (W + N - 1 positions).
        """
        import torch

        assert self.mean_layers is not None
        layers = self.mean_layers
        device = prompt_ids.device
        rows, width = prompt_ids.shape
        steps = {layer: (torch.stack(found.steps[layer], 1) if found.steps[layer]
                         else found.prompt_sum[layer].new_zeros(rows, 0, found.prompt_sum[layer].shape[-1]))
                 for layer in layers}
        fed_steps = steps[layers[0]].shape[1]
        lengths = found.mask.sum(1).tolist()
        keep: list[int | None] = []  # per row: conversation tokens the generation already computed
        tails: list[list[int]] = []
        for row, prompt in enumerate(prompts):
            messages = self.messages.get(prompt)
            prompt_len = int(lengths[row])
            fed = prompt_ids[row, width - prompt_len:].tolist() + generated[row, :fed_steps].tolist()
            if messages is None:
                keep.append(None)
                tails.append([])
                continue
            conversation = render_conversation(tokenizer, [*messages, {"role": "assistant", "content": texts[row]}])
            ids = tokenizer(conversation, add_special_tokens=False)["input_ids"]
            common = next((i for i, (a, b) in enumerate(zip(ids, fed)) if a != b), min(len(ids), len(fed)))
            keep.append(common if common >= prompt_len else None)
            tails.append(ids[common:] if common >= prompt_len else [])
        tail_sums = self._tails(model, tokenizer, found, keep, tails, fed_steps, cache, device)
        last = torch.stack([found.last[k] for k in sorted(found.last)], 1).cpu()  # (B, L+1, d)
        for row, prompt in enumerate(prompts):
            kept = keep[row]
            if kept is None:
                continue
            common = kept
            prompt_len = int(lengths[row])
            total = common + len(tails[row])
            mean = {}
            for layer in layers:
                summed = found.prompt_sum[layer][row] + steps[layer][row, : common - prompt_len].sum(0)
                if tail_sums is not None:
                    summed = summed + tail_sums[layer][row]
                mean[layer] = (summed / max(total, 1)).cpu()
            self.states[(prompt, texts[row])] = CaseStates(last[row].clone(), mean)

    def _tails(self, model: Any, tokenizer: Any, found: _Batch, keep: list[int | None], tails: list[list[int]],
               fed_steps: int, cache: Any, device: Any) -> dict[int, Any] | None:
        """Sums of the remaining tokens' states per layer (B, d), one pass on the generation's cache."""
        import torch

        assert self.mean_layers is not None
        span = max((len(t) for t in tails), default=0)
        if span == 0 or cache is None:
            return None
        rows, width = found.mask.shape
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.full((rows, span), pad, dtype=torch.long, device=device)
        tail_mask = torch.zeros(rows, span, dtype=found.mask.dtype, device=device)
        positions = torch.zeros(rows, span, dtype=torch.long, device=device)
        context = torch.zeros(rows, width + fed_steps + span, dtype=found.mask.dtype, device=device)
        context[:, :width] = found.mask
        lengths = found.mask.sum(1).tolist()
        for row, (common, tail) in enumerate(zip(keep, tails)):
            prompt_len = int(lengths[row])
            kept = fed_steps if common is None else common - prompt_len  # generated positions still attended
            context[row, width : width + kept] = 1
            if tail:
                ids[row, span - len(tail):] = torch.as_tensor(tail, device=device)
                tail_mask[row, span - len(tail):] = 1
                start = prompt_len + kept
                positions[row, span - len(tail):] = torch.arange(start, start + len(tail), device=device)
        context[:, width + fed_steps:] = tail_mask
        capture = ActivationCapture(model, self.mean_layers, ("mean",), stop_early=True)
        out = capture.forward(Encoded(ids, tail_mask, context_mask=context, position_ids=positions), past=cache)
        counts = tail_mask.sum(1, keepdim=True).float().cpu()
        return {layer: (out["mean"][layer] * counts).to(device) for layer in self.mean_layers}
