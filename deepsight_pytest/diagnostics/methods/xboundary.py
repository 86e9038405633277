"""X-Boundary: are harmful and safe representations separated, and where do borderline-benign
ones sit?

Three labelled sets of conversations (harmful prompt + harmful answer, ordinary benign chats,
benign prompts that look dangerous + compliant answer) are rendered with the chat template (no
generation prompt), run forward and mean-pooled over their tokens at the chosen layers (default
``int(L/3)`` and ``int(2L/3)``, indices into ``hidden_states``). Per layer, with ``C_k`` the mean
of class ``k``::

    separation_score = ||C_safe - C_harmful||_2
    boundary_ratio   = ||C_boundary - C_safe||_2 / ||C_boundary - C_harmful||_2

Upstream draws a 2-D t-SNE per layer; we draw the first two principal components (deterministic,
no extra dependency).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from deepsight_pytest.diagnostics.base import DiagnosticError, MethodResult
from deepsight_pytest.diagnostics.capture import (
    capture_texts,
    check_layers,
    default_layers,
    render_conversation,
)

if TYPE_CHECKING:
    from deepsight_pytest.diagnostics.artifacts import Sink
    from deepsight_pytest.diagnostics.context import ScanContext

CLASSES = ("harmful", "safe", "boundary")


def centroids(embeddings: Mapping[str, Any]) -> dict[str, Any]:
    """Class mean of each ``(n_k, d)`` block."""
    return {name: block.double().mean(0) for name, block in embeddings.items()}


def scores(embeddings: Mapping[str, Any]) -> dict[str, float]:
    """Separation score and (when a boundary class is given) boundary ratio of one layer."""
    c = centroids(embeddings)
    for name in ("harmful", "safe"):
        if name not in c:
            raise DiagnosticError(f"X-Boundary needs a {name!r} class")
    out = {"separation": float((c["safe"] - c["harmful"]).norm())}
    if "boundary" in c:
        out["boundary_ratio"] = float((c["boundary"] - c["safe"]).norm() / (c["boundary"] - c["harmful"]).norm())
    return out


def pca_2d(points: Any) -> tuple[Any, Any, Any]:
    """``(coords (n, 2), basis (2, d), mean (d))``: the first two principal components."""
    import torch

    x = points.double()
    mean = x.mean(0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    basis = vh[:2]
    return (x - mean) @ basis.T, basis, mean


def run(scan: "ScanContext", params: Mapping[str, Any], sink: "Sink") -> MethodResult:
    """X-Boundary on the model under test, over the classes in ``params["sets"]``."""
    import torch

    blocks = scan.blocks
    layers = check_layers(params["layers"] or default_layers(blocks), blocks)
    sets = scan.datasets("xboundary", params)
    texts: list[str] = []
    labels: list[str] = []
    for name in CLASSES:
        if name not in sets:
            continue
        for record in sets[name]:
            messages = [*record.case.messages, {"role": "assistant", "content": record.response.text}]
            texts.append(render_conversation(scan.tokenizer, messages))
            labels.append(name)
    pooled = capture_texts(scan.model, scan.tokenizer, texts, layers, ("mean",), batch_size=scan.batch_size,
                            token_budget=scan.token_budget)["mean"]
    values: dict[str, dict[int, float]] = {"separation": {}, "boundary_ratio": {}}
    panels = []
    for layer in layers:
        by_class = {name: pooled[layer][[i for i, lab in enumerate(labels) if lab == name]]
                    for name in CLASSES if name in sets}
        for metric, value in scores(by_class).items():
            values[metric][layer] = value
        coords, _, _ = pca_2d(pooled[layer])
        panels.append({"layer": layer, "points": {name: coords[torch.as_tensor([lab == name for lab in labels])].tolist()
                                                  for name in by_class}})
    values = {k: v for k, v in values.items() if v}
    counts = {name: len(records) for name, records in sets.items()}
    data = {"layers": list(layers), "counts": counts, "values": values, "panels": panels}
    plot = sink.plot("xboundary", "xboundary_panels", panels, values)
    parts = [f"L{layer}: separation {values['separation'][layer]:.2f}"
             + (f", boundary ratio {values['boundary_ratio'][layer]:.3f}" if "boundary_ratio" in values else "")
             for layer in layers]
    summary = f"X-Boundary over {', '.join(f'{n} {k}' for k, n in counts.items())}: " + "; ".join(parts)
    return MethodResult("xboundary", values, summary, plot, sink.data("xboundary", data))
