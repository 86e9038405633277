"""Per-failure diagnostics: what the model's internals show about one unsafe answer.

For a batch of failing records, with the same model in process, two capture passes:

* **prompt pass** (with gradients): the last-token state of the rendered prompt at every layer
  gives the projection on the refusal direction per layer, compared with the refused harmful
  reference prompts (``refusal_direction``); the gradient of the projection at the reference layer
  with respect to the input embeddings, times the embeddings, gives each prompt token's
  attribution (``token_attribution``, restricted to the user's message);
* **conversation pass** (prompt + answer, no generation prompt, mean-pooled): the distance to the
  safe and harmful centroids at the X-Boundary layers (``xboundary_position``). It continues the
  prompt pass's key/value cache, so only the answer's tokens are computed again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ..records import Record
from .artifacts import Sink
from .base import entry
from .capture import ActivationCapture, capture_texts, encode, frozen, render_conversation

if TYPE_CHECKING:
    from .references import ReferenceBundle
    from .scan import DeepScan

TOP_TOKENS = 10


@dataclass
class PromptReading:
    """One prompt's per-layer projections and per-token attributions."""

    projections: list[float]  # index = hidden_states index
    tokens: list[str]
    scores: list[float]
    in_user: list[bool]


def _user_span(prompt: str, record: Record) -> tuple[int, int]:
    content = record.case.prompt
    start = prompt.rfind(content) if content else -1
    return (start, start + len(content)) if start >= 0 else (0, len(prompt))


def _user_mask(tokenizer: Any, prompt: str, span: tuple[int, int]) -> list[bool] | None:
    try:
        offsets = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    except (NotImplementedError, ValueError, KeyError):  # a slow tokenizer has no offsets
        return None
    return [end > span[0] and start < span[1] for start, end in offsets]


def _conversation(scan: "DeepScan", record: Record) -> str:
    return render_conversation(scan.tokenizer, [*record.case.messages,
                                                {"role": "assistant", "content": record.response.text}])


def read_cases(scan: "DeepScan", bundle: "ReferenceBundle",
               records: Sequence[Record]) -> tuple[list[PromptReading], dict[int, Any]]:
    """Both passes, batched: prompt readings, and mean-pooled conversations at the X-Boundary layers.

    The prompt pass (with gradients) keeps its key/value cache; the conversation pass then runs
    only each conversation's tokens after the prompt on top of it (the conversation starts with
    the prompt's exact tokens, checked per row) and combines the two token sums into the
    conversation's mean. Rows whose conversation does not extend the prompt's tokens get a full
    conversation pass instead.
    """
    import torch

    tokenizer = scan.tokenizer
    prompts = [scan.backend.render(r.case.messages) for r in records]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    conv_ids = tokenizer([_conversation(scan, r) for r in records], add_special_tokens=False)["input_ids"]
    tails = [c[len(p):] if len(c) > len(p) and c[: len(p)] == p else None for p, c in zip(prompt_ids, conv_ids)]
    order = sorted(range(len(records)), key=lambda i: -len(prompt_ids[i]))
    readings: list[PromptReading | None] = [None] * len(records)
    pooled: dict[int, Any] = {layer: [None] * len(records) for layer in bundle.xb_layers}
    for start in range(0, len(order), scan.batch_size):
        chunk = order[start : start + scan.batch_size]
        encoded, capture, batch_readings = _prompt_pass(scan, bundle, [prompts[i] for i in chunk],
                                                        [records[i] for i in chunk])
        for index, reading in zip(chunk, batch_readings):
            readings[index] = reading
        if any(tails[i] is not None for i in chunk):
            means = _continue_conversations(scan, bundle, encoded, capture, [tails[i] for i in chunk])
            for row, index in enumerate(chunk):
                if tails[index] is not None:
                    for layer in bundle.xb_layers:
                        pooled[layer][index] = means[layer][row]
    missing = [i for i in range(len(records)) if tails[i] is None]
    if missing:  # a template that rewrites the prompt inside the conversation: a full pass
        full = capture_texts(scan.model, tokenizer, [_conversation(scan, records[i]) for i in missing],
                             bundle.xb_layers, ("mean",), batch_size=scan.batch_size)["mean"]
        for row, index in enumerate(missing):
            for layer in bundle.xb_layers:
                pooled[layer][index] = full[layer][row]
    return [r for r in readings if r is not None], {layer: torch.stack(rows) for layer, rows in pooled.items()}


def _prompt_pass(scan: "DeepScan", bundle: "ReferenceBundle", prompts: list[str],
                 records: list[Record]) -> tuple[Any, ActivationCapture, list[PromptReading]]:
    """Last-token states at every layer, gradient x input at the reference layer, and the cache."""
    import torch

    model, tokenizer = scan.model, scan.tokenizer
    units = bundle.units.float()
    best = bundle.best_layer
    layers = list(range(bundle.blocks + 1))
    device = next(model.parameters()).device
    capture = ActivationCapture(model, layers, ("last", "mean"), keep_graph=True)
    encoded = encode(tokenizer, prompts, device)
    with frozen(model):  # gradients for the input embeddings only, never the weights
        embeds = model.get_input_embeddings()(encoded.input_ids).detach().requires_grad_(True)
        out = capture.forward(encoded, inputs_embeds=embeds, keep_cache=True)
        target = (out["last"][best] * units[best].to(device, out["last"][best].dtype)).sum()
        target.backward()
    attribution = (embeds.grad * embeds).sum(-1).detach().float().cpu()
    states = torch.stack([out["last"][layer].detach().float().cpu() for layer in layers], dim=1)
    projections = (states * units.unsqueeze(0)).sum(-1)
    lengths = encoded.attention_mask.sum(1).tolist()
    readings = []
    for row, (prompt, record) in enumerate(zip(prompts, records)):
        length = int(lengths[row])
        ids = encoded.input_ids[row, -length:].tolist()
        mask = _user_mask(tokenizer, prompt, _user_span(prompt, record))
        readings.append(PromptReading(projections[row].tolist(), [tokenizer.decode([i]) for i in ids],
                                      attribution[row, -length:].tolist(),
                                      mask if mask is not None and len(mask) == length else [True] * length))
    return encoded, capture, readings


def _continue_conversations(scan: "DeepScan", bundle: "ReferenceBundle", encoded: Any, capture: ActivationCapture,
                            tails: list[list[int] | None]) -> dict[int, Any]:
    """Conversation means at the X-Boundary layers from the prompt pass's cache plus the tails."""
    import torch

    from .capture import Encoded

    device = encoded.input_ids.device
    width = max(len(t or [0]) for t in tails)
    pad = scan.tokenizer.pad_token_id or 0
    ids = torch.full((len(tails), width), pad, dtype=torch.long, device=device)
    mask = torch.zeros((len(tails), width), dtype=encoded.attention_mask.dtype, device=device)
    for row, tail in enumerate(tails):
        if tail:  # a row without a usable tail is masked out here and pooled by a full pass
            ids[row, : len(tail)] = torch.as_tensor(tail, device=device)
            mask[row, : len(tail)] = 1
    prompt_len = encoded.attention_mask.sum(1, keepdim=True)
    positions = prompt_len + torch.arange(width, device=device).unsqueeze(0)
    following = Encoded(ids, mask, context_mask=torch.cat([encoded.attention_mask, mask], dim=1), position_ids=positions)
    tail_means = ActivationCapture(scan.model, bundle.xb_layers, ("mean",)).forward(following, past=capture.cache)["mean"]
    capture.cache = None
    n_prompt = prompt_len.float().cpu()
    n_tail = mask.sum(1, keepdim=True).float().cpu()
    return {layer: (capture.results["mean"][layer].detach().float().cpu() * n_prompt + tail_means[layer] * n_tail)
            / (n_prompt + n_tail) for layer in bundle.xb_layers}


def refusal_entry(bundle: "ReferenceBundle", reading: PromptReading, sink: Sink) -> dict[str, Any]:
    import torch

    reference, what = bundle.reference()
    layers = list(range(1, bundle.blocks + 1))
    mean = reference.mean(0)
    std = reference.std(0) if reference.shape[0] > 1 else torch.ones_like(mean)
    harmless = bundle.harmless_proj.mean(0)
    proj = reading.projections
    z = {k: (proj[k] - float(mean[k])) / max(float(std[k]), 1e-12) for k in layers}
    ratio = {k: (proj[k] - float(harmless[k])) / (float(mean[k]) - float(harmless[k]))
             if abs(float(mean[k]) - float(harmless[k])) > 1e-12 else float("nan") for k in layers}
    best = bundle.best_layer
    collapse = min(layers, key=lambda k: z[k])
    curve = {"layers": layers, "projection": [proj[k] for k in layers], "reference_mean": [float(mean[k]) for k in layers],
             "reference_std": [float(std[k]) for k in layers], "harmless_mean": [float(harmless[k]) for k in layers],
             "z": [z[k] for k in layers], "refusal_ratio": [ratio[k] for k in layers],
             "reference": what, "reference_label": "refused" if what.endswith("refused harmful references") else "harmful"}
    numbers = {"layer": best, "projection": proj[best], "reference_mean": float(mean[best]),
               "reference_std": float(std[best]), "harmless_mean": float(harmless[best]), "z": z[best],
               "refusal_ratio": ratio[best], "collapse_layer": collapse, "collapse_z": z[collapse],
               "reference_n": float(reference.shape[0])}
    summary = (f"refusal projection at layer {best}: {proj[best]:.2f} vs {float(mean[best]):.2f} ± {float(std[best]):.2f} "
               f"for {what} (z {z[best]:+.1f}; {ratio[best]:.2f} of the way from harmless to them); "
               f"lowest against them at layer {collapse} (z {z[collapse]:+.1f})")
    plot = sink.plot("refusal_direction", "refusal_layers", curve, best)
    return entry("refusal_direction", summary, numbers, plot, sink.data("refusal_direction", curve))


def position_entry(bundle: "ReferenceBundle", pooled: dict[int, Any], row: int, sink: Sink) -> dict[str, Any]:
    numbers: dict[str, float] = {}
    panels, parts = [], []
    for layer in bundle.xb_layers:
        state = pooled[layer][row].double()
        d_safe = float((state - bundle.centroids[layer]["safe"]).norm())
        d_harm = float((state - bundle.centroids[layer]["harmful"]).norm())
        where = d_safe / (d_safe + d_harm) if d_safe + d_harm > 0 else 0.5
        numbers.update({f"d_safe_L{layer}": d_safe, f"d_harmful_L{layer}": d_harm, f"position_L{layer}": where})
        view = bundle.views[layer]
        x, y = ((state - view["mean"]) @ view["basis"].T).tolist()
        panels.append({"layer": layer, "points": view["points"], "case": [x, y], "position": where,
                       "d_safe": d_safe, "d_harmful": d_harm})
        side = "harmful" if d_harm < d_safe else "safe"
        parts.append(f"L{layer} nearer the {side} centroid (position {where:.2f}; d_safe {d_safe:.1f}, "
                     f"d_harmful {d_harm:.1f})")
    plot = sink.plot("xboundary_position", "position", panels)
    data = [{k: v for k, v in p.items() if k != "points"} for p in panels]
    return entry("xboundary_position", "; ".join(parts), numbers, plot, sink.data("xboundary_position", data))


def attribution_entry(bundle: "ReferenceBundle", reading: PromptReading, sink: Sink) -> dict[str, Any]:
    pairs = [(t, s) for t, s, inside in zip(reading.tokens, reading.scores, reading.in_user) if inside]
    strongest = sorted(pairs, key=lambda p: -abs(p[1]))
    total = sum(abs(s) for _, s in pairs) or 1.0
    top = strongest[:TOP_TOKENS]
    numbers = {"layer": bundle.best_layer, "top_score": top[0][1] if top else 0.0,
               "top5_share": sum(abs(s) for _, s in strongest[:5]) / total, "tokens": len(pairs)}
    words = ", ".join(f"{t.strip() or repr(t)!r} {s:+.2f}" for t, s in top[:5])
    summary = (f"prompt tokens moving the refusal projection at layer {bundle.best_layer} most "
               f"(gradient x input; negative pushes away from refusal): {words or 'none'}")
    plot = sink.plot("token_attribution", "attribution", [t for t, _ in top], [s for _, s in top])
    data = {"layer": bundle.best_layer, "tokens": reading.tokens, "scores": reading.scores, "in_user": reading.in_user}
    return entry("token_attribution", summary, numbers, plot, sink.data("token_attribution", data))


def diagnose_failures(scan: "DeepScan", bundle: "ReferenceBundle", records: Sequence[Record],
                      sinks: Sequence[Sink]) -> list[list[dict[str, Any]]]:
    """The three per-failure entries of each record, in order (two batched passes in all)."""
    readings, pooled = read_cases(scan, bundle, records)
    return [[refusal_entry(bundle, reading, sink), position_entry(bundle, pooled, row, sink),
             attribution_entry(bundle, reading, sink)]
            for row, (reading, sink) in enumerate(zip(readings, sinks))]
