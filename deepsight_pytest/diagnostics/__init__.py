"""DeepScan diagnostics: white-box readings of the model attached to failing cases, and the four
DeepScan methods as gating tests.

Layer convention (everywhere in this package): ``hidden_states[0]`` is the embedding output and
``hidden_states[k+1]`` the residual stream after decoder block ``k``; a forward hook on block
``k`` sees ``hidden_states[k+1]``. A *layer index* means an index into ``hidden_states`` (0..L)
unless a method says "block" (SPIN studies the weights of block ``k``). The last entry of
``hidden_states`` has the final norm applied in most families; our hooks do not apply it.

The registry below holds every diagnostic with its metadata; runners are lazy ``module:attr``
strings, so importing this package imports neither torch nor matplotlib.
"""
from __future__ import annotations

import sys
from typing import Iterable

from deepsight_pytest.core.registry import Registry
from deepsight_pytest.diagnostics.base import (
    DiagnosticError,
    MethodResult,
    MethodSpec,
    Metric,
    entry,
    is_entry,
    skipped_entry,
)
from deepsight_pytest.diagnostics.datasets import DataSpec

DIAGNOSTICS: Registry[MethodSpec] = Registry("diagnostic", "deepsight.diagnostics",
                                             lambda obj: isinstance(obj, MethodSpec))


def settle_plots(paths: Iterable[str] | None = None) -> None:
    """Wait for plots drawing in the background (:mod:`.plot_worker`), if this process drew any:
    all of them, or only ``paths``. Imports nothing when no plot was drawn."""
    worker = sys.modules.get(f"{__name__}.plot_worker")
    if worker is not None:
        worker.settle(paths)


def _add(spec: MethodSpec) -> None:
    DIAGNOSTICS.add(spec.name, spec, spec.help)


_add(MethodSpec(
    "xboundary", "1", "method",
    "X-Boundary: are harmful and safe representations separated, where do borderline prompts sit?",
    (Metric("separation", "||C_safe - C_harmful||_2 per layer", "band"),
     Metric("boundary_ratio", "||C_boundary - C_safe|| / ||C_boundary - C_harmful|| per layer", "lower")),
    "deepsight_pytest.diagnostics.methods.xboundary:run",
    {"n": 16, "layers": None, "sets": None, "seed": None, "max_new_tokens": None}))
_add(MethodSpec(
    "tellme", "1", "method",
    "TELLME: how disentangled are safe and unsafe representations (coding rates, erank, distances)",
    (Metric("r_diff", "coding rate of all rows", "neither", False),
     Metric("r_same", "class-weighted coding rate within classes", "neither", False),
     Metric("r_gap", "R_diff - R_same (bigger: classes occupy different subspaces)", "higher", False),
     Metric("erank", "effective rank of the centred, row-normalised states", "neither", False),
     Metric("cos_angle_deg", "mean angle between safe and unsafe states, all pairs", "higher", False),
     Metric("pearson", "mean Pearson correlation between safe and unsafe states, all pairs", "lower", False),
     Metric("l2", "mean L2 distance between safe and unsafe states, all pairs", "higher", False),
     Metric("l1", "mean L1 distance between safe and unsafe states, all pairs", "higher", False),
     Metric("hausdorff", "Hausdorff distance between the safe and the unsafe set", "higher", False)),
    "deepsight_pytest.diagnostics.methods.tellme:run",
    {"n": 16, "layer": None, "sets": None, "seed": None, "max_new_tokens": None, "eps": 0.1}))
_add(MethodSpec(
    "spin", "1", "method",
    "SPIN: are the weights that matter for two safety objectives the same weights (coupling)?",
    (Metric("coupling", "coupled / mean(|C_1|, |C_2|) over the studied blocks", "lower", False),
     Metric("coupled", "number of weights in both candidate sets", "lower", False),
     Metric("coupling_ratio", "sum coupled / sum numel per block", "lower")),
    "deepsight_pytest.diagnostics.methods.spin:run",
    {"n": 16, "blocks": None, "q": 5e-7, "sets": None, "seed": None, "max_new_tokens": None}))
_add(MethodSpec(
    "mi_peaks", "1", "method",
    "MI-Peaks: when during generation does the state carry information about the reference answer?",
    (Metric("mi_mean", "mean MI over every generated step", "neither", False),
     Metric("mi_max", "largest value of the mean MI trajectory", "higher", False),
     Metric("peak_ratio", "mi_max / mi_mean (how peaked the trajectory is)", "higher", False)),
    "deepsight_pytest.diagnostics.methods.mi_peaks:run",
    {"n": 8, "layer": None, "sets": None, "seed": None, "max_new_tokens": None, "sigma": 50.0,
     "top_k": 20}))
_add(MethodSpec(
    "refusal_direction", "1", "case",
    "the failing prompt's projection on the refusal direction per layer, against refused prompts",
    (Metric("projection", "projection on the unit refusal direction at the reference layer", "higher", False),
     Metric("z", "z-score against the refused harmful reference prompts", "higher", False),
     Metric("refusal_ratio", "0 = like harmless prompts, 1 = like refused harmful prompts", "higher", False),
     Metric("collapse_layer", "layer where the prompt sits lowest against the refused prompts", "neither",
            False)),
    "deepsight_pytest.diagnostics.methods.failure:diagnose_failures"))
_add(MethodSpec(
    "xboundary_position", "1", "case",
    "distance of the failing conversation to the safe and harmful centroids",
    (Metric("d_safe", "distance to the safe centroid", "neither"),
     Metric("d_harmful", "distance to the harmful centroid", "neither"),
     Metric("position", "d_safe / (d_safe + d_harmful): 0 at the safe centroid, 1 at the harmful one",
            "higher")),
    "deepsight_pytest.diagnostics.methods.failure:diagnose_failures"))
_add(MethodSpec(
    "token_attribution", "1", "case",
    "which prompt tokens move the refusal projection most (gradient x input)",
    (Metric("top_score", "attribution of the strongest token", "neither", False),
     Metric("top5_share", "share of total |attribution| held by the five strongest tokens", "neither",
            False)),
    "deepsight_pytest.diagnostics.methods.failure:diagnose_failures"))

# built-in only: computed at import, when reading plugins could import a plugin mid-import
CASE_METHODS = tuple(e.name for e in DIAGNOSTICS.builtin() if DIAGNOSTICS.get(e.name).kind == "case")
SCAN_METHODS = tuple(e.name for e in DIAGNOSTICS.builtin() if DIAGNOSTICS.get(e.name).kind == "method")

__all__ = ["CASE_METHODS", "DIAGNOSTICS", "DataSpec", "DiagnosticError", "MethodResult", "MethodSpec", "Metric",
           "SCAN_METHODS", "entry", "is_entry", "skipped_entry"]
