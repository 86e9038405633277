"""SPIN: are the weights that matter for two safety objectives the same weights?

Two data sets of (prompt, response), e.g. privacy-safe and fairness-safe answers. The loss is
the causal LM loss on the response tokens only. For every ``nn.Linear`` weight ``W`` of the
studied decoder blocks (SPIN counts *blocks*: block ``k`` writes ``hidden_states[k+1]``)::

    I(W)     = |W| * sum_n |dL_n / dW|            (per-sample gradients, summed in absolute value)
    C_D(W)   = indices of the top q fraction of I  (at least one; upstream q = 5e-7 of rows*cols)
    coupled  = |C_1(W) & C_2(W)|
    per block: coupling_ratio = sum coupled / sum numel
    overall:   coupling = coupled / mean(|C_1|, |C_2|)

Cost: one forward and backward pass per sample and data set, with gradients only for the
studied blocks' linear weights (everything else is frozen for the pass).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from deepsight_pytest.diagnostics.base import DiagnosticError, MethodResult
from deepsight_pytest.diagnostics.capture import decoder_blocks, frozen

if TYPE_CHECKING:
    from deepsight_pytest.diagnostics.artifacts import Sink
    from deepsight_pytest.diagnostics.context import ScanContext


@dataclass(frozen=True)
class Coupling:
    """Coupling of one weight matrix (or a sum over several)."""

    coupled: int
    numel: int
    first: int
    second: int

    def __add__(self, other: "Coupling") -> "Coupling":
        return Coupling(self.coupled + other.coupled, self.numel + other.numel, self.first + other.first,
                        self.second + other.second)

    @property
    def ratio(self) -> float:
        return self.coupled / self.numel if self.numel else 0.0

    @property
    def share(self) -> float:
        mean = (self.first + self.second) / 2
        return self.coupled / mean if mean else 0.0


def candidate_count(numel: int, q: float) -> int:
    return max(1, math.ceil(q * numel))


def candidates(importance: Any, q: float) -> Any:
    """Flat indices of the top ``q`` fraction of ``importance`` (ties broken by index, stably)."""
    import torch

    flat = importance.reshape(-1)
    return torch.topk(flat, candidate_count(flat.numel(), q), sorted=False).indices


def couple(first: Any, second: Any, q: float) -> Coupling:
    """Coupling of one weight given its importance under the two data sets."""
    import torch

    c1, c2 = candidates(first, q), candidates(second, q)
    both = int(torch.isin(c1, c2).sum())
    return Coupling(both, first.numel(), c1.numel(), c2.numel())


def coupling_by_block(first: Mapping[str, Any], second: Mapping[str, Any], block_of: Mapping[str, int],
                      q: float) -> dict[int, Coupling]:
    """Sum of the per-weight couplings of each block."""
    out: dict[int, Coupling] = {}
    for name, importance in first.items():
        block = block_of[name]
        one = couple(importance, second[name], q)
        out[block] = out[block] + one if block in out else one
    return out


def studied_weights(model: Any, blocks: Sequence[int]) -> dict[str, tuple[int, Any]]:
    """``{name: (block, weight)}`` for every ``nn.Linear`` weight of the studied blocks."""
    import torch

    layers = decoder_blocks(model)
    found: dict[str, tuple[int, Any]] = {}
    for block in blocks:
        if not 0 <= block < len(layers):
            raise DiagnosticError(f"block {block} is outside 0..{len(layers) - 1} of this model")
        for name, module in layers[block].named_modules():
            if isinstance(module, torch.nn.Linear):
                found[f"{block}.{name}"] = (block, module.weight)
    return found


def importances(model: Any, tokenizer: Any, samples: Sequence[tuple[str, str]],
                weights: Mapping[str, tuple[int, Any]]) -> dict[str, Any]:
    """``I(W) = |W| * sum_n |dL_n/dW|`` for (rendered prompt, response) samples, one pass each."""
    import torch

    device = next(model.parameters()).device
    total = {name: torch.zeros_like(w, dtype=torch.float32) for name, (_, w) in weights.items()}
    with frozen(model, [w for _, w in weights.values()]), torch.enable_grad():
        for prompt, response in samples:
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            full_ids = tokenizer(prompt + response, add_special_tokens=False)["input_ids"]
            if len(full_ids) <= len(prompt_ids):
                continue  # an empty response has no tokens to score
            ids = torch.as_tensor([full_ids], device=device)
            labels = ids.clone()
            labels[:, : len(prompt_ids)] = -100
            loss = model(input_ids=ids, labels=labels, use_cache=False).loss
            loss.backward()
            for name, (_, w) in weights.items():
                total[name] += w.grad.detach().abs().float()
                w.grad = None
    return {name: w.detach().abs().float() * total[name] for name, (_, w) in weights.items()}


def run(scan: "ScanContext", params: Mapping[str, Any], sink: "Sink") -> MethodResult:
    """SPIN on the model under test, over the ``first`` and ``second`` sets in ``params["sets"]``."""
    blocks = list(params["blocks"]) if params["blocks"] is not None else list(range(scan.blocks))
    q = float(params["q"])
    if not 0 < q <= 1:
        raise DiagnosticError(f"SPIN q must be in (0, 1], got {q}")
    sets = scan.datasets("spin", params)
    weights = studied_weights(scan.model, blocks)
    block_of = {name: block for name, (block, _) in weights.items()}
    found = {}
    for name in ("first", "second"):
        samples = [(scan.backend.render(r.case.messages), r.response.text) for r in sets[name]]
        found[name] = importances(scan.model, scan.tokenizer, samples, weights)
    per_block = coupling_by_block(found["first"], found["second"], block_of, q)
    total = sum(per_block.values(), Coupling(0, 0, 0, 0))
    ranked = sorted(per_block, key=lambda b: (-per_block[b].coupled, b))
    values: dict[str, Any] = {"coupling": total.share, "coupled": float(total.coupled),
                              "coupling_ratio": {b: per_block[b].ratio for b in sorted(per_block)}}
    rows = [{"block": b, "coupled": c.coupled, "numel": c.numel, "first": c.first, "second": c.second,
             "ratio": c.ratio, "share": c.share} for b, c in sorted(per_block.items())]
    data = {"q": q, "counts": {k: len(v) for k, v in sets.items()}, "blocks": rows, "top_blocks": ranked[:5],
            "coupling": total.share, "coupled": total.coupled, "candidates": [total.first, total.second]}
    plot = sink.plot("spin", "spin_blocks", rows, {"coupling": total.share})
    top = ", ".join(f"block {b} ({per_block[b].coupled})" for b in ranked[:3])
    summary = (f"SPIN q={q:g} over {len(sets['first'])} + {len(sets['second'])} samples: coupling "
               f"{total.share:.3f} ({total.coupled} of {total.first}/{total.second} candidates shared); "
               f"most coupled: {top}")
    return MethodResult("spin", values, summary, plot, sink.data("spin", data),
                        extra_numbers={"candidates_first": float(total.first), "candidates_second": float(total.second)})
