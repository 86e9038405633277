"""Per-failure diagnostics: what the model's internals show about one unsafe answer.

For a batch of failing records, with the same model in process, the readings below. The first two
were captured while the model generated the answer (``generation_states.py``: hooks during the
prefill and decode steps, and one short pass on the generation's cache for the end-of-turn
tokens); a record generated elsewhere (a cached response, another xdist worker, a later turn)
has them computed by two passes, each batched by the token budget (``models/budget.py``):

* **prompt** (no graph): the last-token state of the rendered prompt at every layer gives the
  projection on the refusal direction per layer, compared with the refused harmful reference
  prompts (``refusal_direction``);
* **conversation** (prompt + answer, no generation prompt, mean-pooled, no graph): the
  distance to the safe and harmful centroids at the X-Boundary layers (``xboundary_position``);
* **attribution pass** (with gradients, stopped at the reference layer: autograd keeps a graph over
  those blocks only, the blocks above never run): the gradient of the projection at the reference
  layer with respect to the input embeddings, times the embeddings, gives each prompt token's
  attribution (``token_attribution``, restricted to the user's message). A prompt too long for
  this pass even alone gets a skipped ``token_attribution`` entry with the reason.

On a vision-language model (``hf-vlm:``) the same readings are taken on its language tower
(``tower.py``): the inputs are the tower's merged embeddings (image features in the image tokens'
rows), and each image's run of tokens is one ``<image>`` span of the attribution (its scores
summed), counted in the user's message.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from deepsight_pytest.records import Record
from deepsight_pytest.diagnostics.artifacts import Sink
from deepsight_pytest.diagnostics.base import entry, skipped_entry
from deepsight_pytest.diagnostics.capture import (
    ActivationCapture,
    capture_texts,
    encode,
    frozen,
    render_conversation,
    token_lengths,
)
from deepsight_pytest.diagnostics.checkpointing import checkpointed_blocks
from deepsight_pytest.diagnostics.tower import attribution_spans

if TYPE_CHECKING:
    from deepsight_pytest.diagnostics.references import ReferenceBundle
    from deepsight_pytest.diagnostics.context import ScanContext

TOP_TOKENS = 10


@dataclass
class PromptReading:
    """One prompt's per-layer projections and per-token attributions."""

    projections: list[float]  # index = hidden_states index
    tokens: list[str]
    scores: list[float]
    in_user: list[bool]
    skipped: str | None = None  # why there is no attribution (too large for the gradient pass)
    widths: list[int] | None = None  # model tokens per shown token (an image's run is one, ``tower.py``)


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


def _conversation(scan: "ScanContext", record: Record) -> str:
    return render_conversation(scan.tokenizer, [*record.case.messages,
                                                {"role": "assistant", "content": record.response.text}])


def read_cases(scan: "ScanContext", bundle: "ReferenceBundle",
               records: Sequence[Record]) -> tuple[list[PromptReading], dict[int, Any]]:
    """Prompt readings (or, per row, why the attribution could not run) and the mean-pooled
    conversations at the X-Boundary layers.

    The prompts' last-token states at every layer and the conversations' means come from the
    generation (:meth:`~.scan.DeepScan.states_of`); the rows without them get two passes without a
    graph. Then the attribution pass, whose graph stops at the reference layer (the blocks above
    it never run). Every pass is batched by the token budget (:mod:`..models.budget`); the
    attribution's batches weigh each token by the graph it keeps (:func:`~..models.budget.graph_cost`).
    """
    tokenizer = scan.tokenizer
    budget = scan.token_budget
    prompts = [scan.backend.render(r.case.messages) for r in records]
    last, pooled = _states(scan, bundle, records, prompts)
    attributions = _attributions(scan, bundle, prompts, budget)
    readings: list[PromptReading] = []
    layers = range(bundle.blocks + 1)
    for row, (prompt, record) in enumerate(zip(prompts, records)):
        projections = [float((last[row][k].float() * bundle.units[k].float()).sum()) for k in layers]
        found = attributions[row]
        if isinstance(found, str):  # too large for a gradient pass: the other readings stand
            readings.append(PromptReading(projections, [], [], [], skipped=found))
            continue
        ids, scores = found
        mask = _user_mask(tokenizer, prompt, _user_span(prompt, record))
        tokens, scores, inside, widths = attribution_spans(tokenizer, prompt, ids, scores, mask)
        readings.append(PromptReading(projections, tokens, scores, inside, widths=widths))
    return readings, pooled


def _states(scan: "ScanContext", bundle: "ReferenceBundle", records: Sequence[Record],
            prompts: list[str]) -> tuple[list[Any], dict[int, Any]]:
    """Per row its prompt's last-token states ``(L + 1, d)``, and ``{layer: (N, d)}`` conversation
    means: captured during generation where they were, else by the two passes without a graph."""
    import torch

    captured = [scan.states_of(r) for r in records]
    usable = [s if s is not None and s.last.shape[0] == bundle.blocks + 1 and set(bundle.xb_layers) <= s.mean.keys()
              else None for s in captured]
    missing = [row for row, s in enumerate(usable) if s is None]
    last: list[Any] = [None if s is None else s.last for s in usable]
    pooled_rows: dict[int, list[Any]] = {k: [None if s is None else s.mean[k] for s in usable] for k in bundle.xb_layers}
    if missing:
        layers = list(range(bundle.blocks + 1))
        budget = scan.token_budget
        found = capture_texts(scan.model, scan.tokenizer, [prompts[i] for i in missing], layers, ("last",),
                              batch_size=scan.batch_size, token_budget=budget)["last"]
        means = capture_texts(scan.model, scan.tokenizer, [_conversation(scan, records[i]) for i in missing],
                              bundle.xb_layers, ("mean",), batch_size=scan.batch_size, token_budget=budget)["mean"]
        for j, row in enumerate(missing):
            last[row] = torch.stack([found[k][j] for k in layers])
            for k in bundle.xb_layers:
                pooled_rows[k][row] = means[k][j]
    pooled = {k: torch.stack([t.float() for t in rows]) for k, rows in pooled_rows.items()}
    return last, pooled


def _attributions(scan: "ScanContext", bundle: "ReferenceBundle", prompts: list[str],
                  budget: int | None) -> list[tuple[list[int], list[float]] | str]:
    """Per prompt, its token ids and gradient x input at the reference layer, or why not."""
    from deepsight_pytest.models.budget import TooLarge, graph_cost, plan_batches, run_halving

    lengths = token_lengths(scan.tokenizer, prompts)
    cost = graph_cost(scan.model.config, bundle.best_layer)
    plan = plan_batches(lengths, budget or (1 << 62), max_rows=scan.batch_size, cost=cost)
    out: list[tuple[list[int], list[float]] | str] = [""] * len(prompts)
    for index in plan.too_large:
        out[index] = (f"skipped: the prompt's {lengths[index]} tokens with a gradient graph through "
                      f"{bundle.best_layer} blocks weigh {lengths[index] * cost:.0f} budget tokens > "
                      f"--safety-token-budget {budget}")
    for group in plan.groups:
        results = run_halving(group, lambda rows: _gradient_pass(scan, bundle, [prompts[i] for i in rows]))
        for index, result in zip(group, results):
            out[index] = f"skipped: {result}" if isinstance(result, TooLarge) else result
    return out


def _gradient_pass(scan: "ScanContext", bundle: "ReferenceBundle",
                   prompts: list[str]) -> list[tuple[list[int], list[float]]]:
    """Gradient x input of the refusal projection at the reference layer; the forward stops there,
    so autograd keeps a graph over ``best_layer`` blocks only and the rest never run. Those blocks
    are checkpointed (:mod:`.checkpointing`): each keeps its input, not its intermediates."""
    model, tokenizer = scan.model, scan.tokenizer
    best = bundle.best_layer
    device = next(model.parameters()).device
    capture = ActivationCapture(model, [best], ("last",), keep_graph=True, stop_early=True)
    encoded = encode(tokenizer, prompts, device)
    # gradients for the input embeddings only, never the weights; blocks recompute, not keep, activations
    with frozen(model), checkpointed_blocks(model, best):
        given = encoded.inputs_embeds  # a VLM's tower: the image features merged in (``tower.py``)
        embeds = (given if given is not None else model.get_input_embeddings()(encoded.input_ids))
        embeds = embeds.detach().requires_grad_(True)
        out = capture.forward(encoded, inputs_embeds=embeds)
        state = out["last"][best]
        target = (state * bundle.units[best].to(device, state.dtype)).sum()
        target.backward()
    attribution = (embeds.grad * embeds).sum(-1).detach().float().cpu()
    lengths = encoded.attention_mask.sum(1).tolist()
    return [(encoded.input_ids[row, -int(n):].tolist(), attribution[row, -int(n):].tolist())
            for row, n in enumerate(lengths)]


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
    if reading.skipped is not None:
        return skipped_entry("token_attribution", reading.skipped.removeprefix("skipped: "))
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
    if reading.widths is not None and any(w != 1 for w in reading.widths):
        data["widths"] = reading.widths  # an image's tokens are one span: how many each shown token covers
    return entry("token_attribution", summary, numbers, plot, sink.data("token_attribution", data))


def diagnose_failures(scan: "ScanContext", bundle: "ReferenceBundle", records: Sequence[Record],
                      sinks: Sequence[Sink]) -> list[list[dict[str, Any]]]:
    """The three per-failure entries of each record, in order (one batched gradient pass in all,
    when the states were captured during generation; three passes when not)."""
    readings, pooled = read_cases(scan, bundle, records)
    return [[refusal_entry(bundle, reading, sink), position_entry(bundle, pooled, row, sink),
             attribution_entry(bundle, reading, sink)]
            for row, (reading, sink) in enumerate(zip(readings, sinks))]
