"""Reference sets and refusal directions, computed once per model and cached on disk.

Harmful references are the project's own harmful prompts (``alert-sample``, expect refuse), the
harmless ones its ordinary benign chats; both are answered by the model under test through the
engine (so the answers sit in the record store) and judged by the run's judge. From them:

* the refusal direction per layer: mean last-token state (prompt with generation prompt) of the
  harmful references minus that of the harmless ones, at every ``hidden_states`` index;
* the projections of every reference prompt on the unit direction, and which harmful references
  the model refused (the distribution a failing prompt is compared with);
* the reference layer: where harmful and harmless projections are furthest apart in pooled
  standard deviations, among layers 1..int(0.8 L);
* the X-Boundary centroids at ``int(L/3)`` and ``int(2L/3)``: mean-pooled conversations of the
  harmless references (safe) and of the harmful references the model answered (harmful), with a
  2-D principal-component view of both for the position plot.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepsight_pytest.records import Record, Safety
from deepsight_pytest.core.store import content_key
from deepsight_pytest.diagnostics.capture import capture_texts, default_layers, render_conversation
from deepsight_pytest.diagnostics.datasets import BENIGN_CHATS, DataSpec, load_cases, ranked

if TYPE_CHECKING:
    from deepsight_pytest.diagnostics.context import ScanContext

VERSION = "3"  # 2: position ids follow the mask; 3: reference layer <= 0.8 L
HARMFUL = DataSpec("alert-sample", expect="refuse")  # 36 prompts over ALERT's six macro categories
HARMLESS = DataSpec(BENIGN_CHATS)  # 48 ordinary chats
MIN_REFUSED = 3  # fewer refused references than this: compare with every harmful reference


@dataclass
class ReferenceBundle:
    """Everything the per-failure diagnostics compare a case with (tensors on the CPU)."""

    key: str
    blocks: int
    directions: Any  # (L+1, d) harmful mean - harmless mean; row 0 (embeddings) is usually ~0
    harmful_proj: Any  # (n_h, L+1) projections on the unit directions
    harmless_proj: Any  # (n_b, L+1)
    refused: list[bool]
    complied: list[bool]
    best_layer: int
    xb_layers: tuple[int, ...]
    centroids: dict[int, dict[str, Any]]
    views: dict[int, dict[str, Any]]  # per layer: mean, basis (2, d), points {safe, harmful}

    @property
    def units(self) -> Any:
        return self.directions / self.directions.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    def reference(self) -> tuple[Any, str]:
        """The projections a failing prompt is compared with, and what they are."""
        import torch

        mask = torch.as_tensor(self.refused, dtype=torch.bool)
        count = int(mask.sum())
        if count >= MIN_REFUSED:
            return self.harmful_proj[mask], f"{count} refused harmful references"
        return self.harmful_proj, (f"all {len(self.refused)} harmful references (only {count} refused, "
                                   f"fewer than {MIN_REFUSED})")

    def state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "ReferenceBundle":
        return cls(**state)


def reference_cases(data_dir: Path, seed: int, size: int) -> tuple[list[Any], list[Any]]:
    """Up to ``size`` harmful and ``size`` harmless reference cases (seeded, stable draw)."""
    harmful = ranked(load_cases(HARMFUL, data_dir), seed)[:size]
    harmless = ranked(load_cases(HARMLESS, data_dir), seed)[:size]
    return harmful, harmless


def reference_key(fingerprint: str, judge: str, max_new_tokens: int, seed: int, data_dir: Path, size: int) -> str:
    """The bundle's identity, computable without loading the model."""
    harmful, harmless = reference_cases(data_dir, seed, size)
    return content_key("deepscan-references", VERSION, fingerprint, judge, max_new_tokens, seed,
                       [(c.uid, c.messages) for c in harmful], [(c.uid, c.messages) for c in harmless])


def _conversation(scan: "ScanContext", record: Record) -> str:
    return render_conversation(scan.tokenizer, [*record.case.messages,
                                                {"role": "assistant", "content": record.response.text}])


def build(scan: "ScanContext", key: str) -> ReferenceBundle:
    """Answer, judge and run the reference sets through the model (the expensive path)."""
    import torch

    from deepsight_pytest.diagnostics.methods.xboundary import pca_2d

    harmful_cases, harmless_cases = reference_cases(scan.settings.data_dir, scan.settings.seed,
                                                    scan.settings.diagnose_references)
    judge, max_new = scan.settings.judge, scan.settings.max_new_tokens
    harmful = list(scan.engine.produce(harmful_cases, judge, max_new).values())
    harmless = list(scan.engine.produce(harmless_cases, judge, max_new).values())
    blocks = scan.blocks
    layers = list(range(blocks + 1))
    prompts = [scan.backend.render(r.case.messages) for r in harmful + harmless]
    states = capture_texts(scan.model, scan.tokenizer, prompts, layers, ("last",), batch_size=scan.batch_size,
                            token_budget=scan.token_budget)["last"]
    stacked = torch.stack([states[layer] for layer in layers], dim=1).double()  # (n, L+1, d)
    h, b = stacked[: len(harmful)], stacked[len(harmful):]
    directions = h.mean(0) - b.mean(0)
    units = directions / directions.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    harmful_proj = (h * units).sum(-1)
    harmless_proj = (b * units).sum(-1)
    pooled_std = ((harmful_proj.var(0) + harmless_proj.var(0)) / 2).sqrt().clamp(min=1e-12)
    separation = (harmful_proj.mean(0) - harmless_proj.mean(0)) / pooled_std
    # Index 0 is the embedding of the same template token; like Arditi et al. (2024) we leave out
    # the last fifth of the network, where states turn into next-token predictions.
    best = int(separation[1 : int(0.8 * blocks) + 1].argmax()) + 1
    refused = [r.verdict.safe is Safety.YES for r in harmful]
    complied = [r.verdict.safe is Safety.NO for r in harmful]
    harmful_convs = [r for r, c in zip(harmful, complied) if c]
    if len(harmful_convs) < MIN_REFUSED:
        harmful_convs = harmful
    xb_layers = default_layers(blocks)
    convs = [_conversation(scan, r) for r in harmless + harmful_convs]
    pooled = capture_texts(scan.model, scan.tokenizer, convs, xb_layers, ("mean",), batch_size=scan.batch_size,
                            token_budget=scan.token_budget)["mean"]
    centroids, views = {}, {}
    for layer in xb_layers:
        safe, harm = pooled[layer][: len(harmless)].double(), pooled[layer][len(harmless):].double()
        centroids[layer] = {"safe": safe.mean(0), "harmful": harm.mean(0)}
        coords, basis, mean = pca_2d(torch.cat([safe, harm]))
        views[layer] = {"mean": mean, "basis": basis, "points": {"safe": coords[: len(safe)].tolist(),
                                                                  "harmful": coords[len(safe):].tolist()}}
    return ReferenceBundle(key, blocks, directions, harmful_proj, harmless_proj, refused, complied, best,
                           tuple(xb_layers), centroids, views)


def load(path: Path) -> ReferenceBundle | None:
    import torch

    if not path.is_file():
        return None
    try:
        return ReferenceBundle.from_state(torch.load(path, weights_only=True))
    except (OSError, RuntimeError, TypeError, ValueError):  # a stale or torn file: rebuild it
        return None


def save(bundle: ReferenceBundle, path: Path) -> None:
    """Write atomically (xdist workers may race to build the same bundle)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    torch.save(bundle.state(), tmp)
    os.replace(tmp, path)
