"""MI-Peaks: when, during generation, does the model's state carry information about the answer?

Rows are (problem, solution). We generate greedily and record, at every step, the last-token
state at one layer (the state whose prediction is generated token ``t``); the reference ``r`` is
the last-token state of the solution text, one forward pass. MI is the kernel estimator of the
upstream code, over the d coordinates taken as d paired scalar samples::

    K_ij = exp(-(x_i - x_j)^2 / (2 sigma^2)),  Kc = K H  (H = I - 11^T/d),  lam = 1e-5 * d
    R    = Kc (Kc + lam I)^-1,                  MI(x, y) = trace(R_x R_y)

:func:`mi_direct` is that formula as written: one token at a time, two d x d inverses and three
d x d products each time (the upstream cost, O(d^3) per token). :class:`MIEstimator` computes
the same number batched over tokens (on the GPU when there is one) through exact rewrites:

1. In the basis ``(1/sqrt(d), U)``, ``K H`` is block upper-triangular, so
   ``trace(R_x R_y) = trace(F_x F_y)`` with ``F = G (G + lam I)^-1`` and ``G = H K H`` (doubly
   centred, symmetric positive semi-definite).
2. ``K = P P^T`` (pivoted Cholesky, built from the kernel columns it needs, never the d x d
   matrix) gives ``F = Z Z^T`` with ``Q = H P``, ``M = lam I + Q^T Q = R R^T`` and
   ``Z = Q R^-T``; then ``MI = ||Z_x^T Z_y||_F^2``: O(d k^2) per token instead of O(d^3), k being
   the numerical rank of the kernel (small: sigma = 50 is wide next to hidden-state values).
3. The factorisation stops when the residual trace ``tr(K - P P^T)`` is below ``delta``. As
   ``t -> t / (t + lam)`` is operator monotone with slope at most ``1/lam``, the value moves by at
   most ``(delta_x + delta_y) / lam``; we report that bound (``truncation_bound``, 1e-6 by default).
   A token whose kernel rank exceeds ``max_rank`` takes the exact full-rank path instead:
   ``MI = sum_j ||z_j||^2 - lam ||L^-1 z_j||^2`` with ``L L^T = G + lam I`` (one Cholesky and one
   triangular solve, O(d^3) but a third of an inverse).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from deepsight_pytest.diagnostics.base import DiagnosticError, MethodResult
from deepsight_pytest.diagnostics.capture import check_layers, encode, layer_hook

if TYPE_CHECKING:
    from deepsight_pytest.diagnostics.artifacts import Sink
    from deepsight_pytest.diagnostics.context import ScanContext

SIGMA = 50.0
EPS = 1e-5


def mi_direct(x: Any, y: Any, sigma: float = SIGMA, eps: float = EPS) -> float:
    """The upstream formula for one pair of vectors, written out (the reference implementation)."""
    import torch

    def centred_kernel(v: Any) -> Any:
        v = v.reshape(-1, 1)
        d = v.shape[0]
        dist = (v - v.T) ** 2
        kernel = torch.exp(-dist / (2.0 * sigma * sigma))
        h = torch.eye(d, dtype=v.dtype, device=v.device) - torch.full((d, d), 1.0 / d, dtype=v.dtype, device=v.device)
        return kernel @ h

    kx, ky = centred_kernel(x), centred_kernel(y)
    d = kx.shape[0]
    eye = torch.eye(d, dtype=kx.dtype, device=kx.device)
    rx = kx @ torch.inverse(kx + eps * d * eye)
    ry = ky @ torch.inverse(ky + eps * d * eye)
    return float(torch.sum(rx * ry.T))


@dataclass
class Reference:
    """The reference's factor ``Z_y`` (``F_y = Z_y Z_y^T``) and its residual trace."""

    z: Any  # (d, k)
    residual: float


def pivoted_cholesky(x: Any, sigma: float, delta: float, max_rank: int) -> tuple[Any, Any]:
    """Batched pivoted Cholesky of the Gaussian kernels of the rows of ``x`` (B, d).

    Returns ``P`` (B, d, k) with ``K_b ~= P_b P_b^T`` and the residual traces (B,). Only the k
    pivot columns of each kernel are ever computed.
    """
    import torch

    rows, d = x.shape
    scale = -1.0 / (2.0 * sigma * sigma)
    diag = torch.ones(rows, d, dtype=x.dtype, device=x.device)  # K_ii = 1
    factor = torch.zeros(rows, d, min(max_rank, d), dtype=x.dtype, device=x.device)
    index = torch.arange(rows, device=x.device)
    rank = 0
    for step in range(factor.shape[2]):
        residual = diag.sum(-1)
        active = residual > delta
        if not bool(active.any()):
            break
        pivot = diag.argmax(-1)
        column = torch.exp((x - x[index, pivot].unsqueeze(-1)).square() * scale)
        if step:
            column -= torch.einsum("bdk,bk->bd", factor[:, :, :step], factor[index, pivot, :step])
        column = column / diag[index, pivot].clamp(min=1e-300).sqrt().unsqueeze(-1)
        column = column * active.unsqueeze(-1)
        factor[:, :, step] = column
        diag = (diag - column.square()).clamp(min=0.0)
        rank = step + 1
    return factor[:, :, :rank], diag.sum(-1)


def projector_factor(factor: Any, lam: float) -> Any:
    """``Z`` with ``Z Z^T = G (G + lam I)^-1``, ``G = H P P^T H``, for a batch of ``P`` (B, d, k)."""
    import torch

    q = factor - factor.mean(-2, keepdim=True)  # H P
    k = q.shape[-1]
    m = lam * torch.eye(k, dtype=q.dtype, device=q.device) + q.transpose(-1, -2) @ q
    chol = torch.linalg.cholesky(m)
    # Z = Q R^-T  <=>  R Z^T = Q^T
    return torch.linalg.solve_triangular(chol, q.transpose(-1, -2), upper=False).transpose(-1, -2)


def double_centred_kernel(x: Any, sigma: float = SIGMA) -> Any:
    """``H K H`` for a batch of vectors ``(..., d)`` -> ``(..., d, d)`` (the full-rank fallback)."""
    import torch

    kernel = torch.exp((x.unsqueeze(-1) - x.unsqueeze(-2)).square() * (-1.0 / (2.0 * sigma * sigma)))
    row = kernel.mean(-1, keepdim=True)
    col = kernel.mean(-2, keepdim=True)
    return kernel - row - col + row.mean(-2, keepdim=True)


def exact_factor(x: Any, lam: float, sigma: float) -> Any:
    """``Z`` from the full eigendecomposition of ``G`` (a token whose kernel rank is too high)."""
    import torch

    values, vectors = torch.linalg.eigh(double_centred_kernel(x, sigma))
    g = values.clamp(min=0.0) / (values.clamp(min=0.0) + lam)
    return vectors * g.sqrt().unsqueeze(-2)


class MIEstimator:
    """MI(h_t, r) for many states against one reference, batched over tokens (GPU if available)."""

    def __init__(self, sigma: float = SIGMA, eps: float = EPS, *, device: str | None = None,
                 bound: float = 1e-6, max_rank: int = 256, chunk: int = 256) -> None:
        import torch

        self.sigma = sigma
        self.eps = eps
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.bound = bound
        self.max_rank = max_rank
        self.chunk = chunk

    def reference(self, y: Any) -> Reference:
        """The reference's factor (full eigendecomposition when its kernel rank is too high)."""
        import torch

        y = y.to(self.device, torch.float64).reshape(1, -1)
        lam = self.eps * y.shape[-1]
        factor, residual = pivoted_cholesky(y, self.sigma, self.bound * lam / 2, self.max_rank)
        if float(residual[0]) > self.bound * lam / 2:
            return Reference(exact_factor(y, lam, self.sigma)[0], 0.0)
        return Reference(projector_factor(factor, lam)[0], float(residual[0]))

    def __call__(self, states: Any, reference: Reference) -> tuple[Any, float]:
        """MI of each row of ``states`` (T, d) with the reference, and the bound on its error."""
        import torch

        lam = self.eps * states.shape[-1]
        delta = self.bound * lam / 2  # each side's share of the bound
        out, worst = [], 0.0
        for start in range(0, states.shape[0], self.chunk):
            x = states[start : start + self.chunk].to(self.device, torch.float64)
            factor, residual = pivoted_cholesky(x, self.sigma, delta, self.max_rank)
            cross = projector_factor(factor, lam).transpose(-1, -2) @ reference.z  # (B, k_x, k_y)
            mi = cross.square().sum((-1, -2))
            over = residual > delta
            if bool(over.any()):  # kernel rank above max_rank: the exact Cholesky path for those rows
                mi[over] = self._full_rank(x[over], reference, lam)
                residual = residual.masked_fill(over, 0.0)
            out.append(mi)
            worst = max(worst, float(residual.max()))
        return torch.cat(out).cpu(), (worst + reference.residual) / lam

    def _full_rank(self, x: Any, reference: Reference, lam: float) -> Any:
        """``sum_j ||z_j||^2 - lam ||L^-1 z_j||^2`` with ``L L^T = G + lam I`` (z_j orthogonal to 1)."""
        import torch

        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
        chol = torch.linalg.cholesky(double_centred_kernel(x, self.sigma) + lam * eye)
        solved = torch.linalg.solve_triangular(chol, reference.z.expand(x.shape[0], -1, -1), upper=False)
        return reference.z.square().sum() - lam * solved.square().sum((-1, -2))


def peaks(trajectory: Sequence[float], k: int) -> list[int]:
    """Positions of the ``k`` largest values (ascending positions)."""
    ranked = sorted(range(len(trajectory)), key=lambda i: (-trajectory[i], i))
    return sorted(ranked[: max(0, k)])


def mean_trajectory(trajectories: Sequence[Sequence[float]]) -> list[float]:
    """Mean over the samples that reach each step."""
    longest = max((len(t) for t in trajectories), default=0)
    out = []
    for step in range(longest):
        values = [t[step] for t in trajectories if len(t) > step]
        out.append(sum(values) / len(values))
    return out


def thinking_tokens(tokens: Sequence[Sequence[str]], peak_positions: Sequence[Sequence[int]],
                    top: int = 10) -> list[tuple[str, int]]:
    """The most frequent alphabetic tokens at peak positions across samples."""
    counts: Counter[str] = Counter()
    for words, positions in zip(tokens, peak_positions):
        for position in positions:
            word = words[position].strip()
            if word.isalpha():
                counts[word] += 1
    return counts.most_common(top)


def generate_states(scan: "ScanContext", prompts: Sequence[str], layer: int, max_new_tokens: int) -> list[tuple[Any, list[int]]]:
    """Greedy generation recording the last-token state at ``layer`` on every step, per prompt."""
    import torch

    model, tokenizer = scan.model, scan.tokenizer
    device = next(model.parameters()).device
    stops = scan.stop_ids()
    results: list[tuple[Any, list[int]]] = []
    for start in range(0, len(prompts), scan.batch_size):
        batch = list(prompts[start : start + scan.batch_size])
        encoded = encode(tokenizer, batch, device)
        steps: list[Any] = []
        with layer_hook(model, layer, lambda hidden: steps.append(hidden[:, -1].detach().float().cpu())), \
                torch.inference_mode():
            output = model.generate(input_ids=encoded.input_ids, attention_mask=encoded.attention_mask,
                                    max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        new = output[:, encoded.input_ids.shape[1]:].tolist()
        states = torch.stack(steps, dim=1)  # (B, steps, d)
        for row, ids in enumerate(new):
            length = next((i for i, tok in enumerate(ids) if tok in stops), len(ids))
            length = min(length, states.shape[1])
            results.append((states[row, :length], ids[:length]))
    return results


def run(scan: "ScanContext", params: Mapping[str, Any], sink: "Sink") -> MethodResult:
    """MI-Peaks on the model under test over the (problem, solution) rows of ``params["sets"]``."""
    import torch

    blocks = scan.blocks
    [layer] = check_layers([params["layer"] if params["layer"] is not None else (2 * blocks) // 3], blocks)
    if layer == 0:
        raise DiagnosticError("MI-Peaks reads a decoder block's output: choose a layer from 1")
    sets = scan.datasets("mi_peaks", params)
    rows = sets["rows"]
    solutions = [scan.solution(record) for record in rows]
    prompts = [scan.backend.render(record.case.messages) for record in rows]
    max_new = int(params["max_new_tokens"] or scan.settings.max_new_tokens)
    generated = generate_states(scan, prompts, layer, max_new)
    from deepsight_pytest.diagnostics.capture import capture_texts

    refs = capture_texts(scan.model, scan.tokenizer, solutions, [layer], ("last",), batch_size=scan.batch_size,
                         special_tokens=True)["last"][layer]
    estimator = MIEstimator(float(params["sigma"]))
    trajectories, tokens, peak_positions, bound = [], [], [], 0.0
    for (states, ids), ref in zip(generated, refs):
        if not ids:
            continue
        values, error = estimator(states, estimator.reference(ref))
        bound = max(bound, error)
        mi = values.tolist()
        trajectories.append(mi)
        tokens.append([scan.tokenizer.decode([tok]) for tok in ids])
        peak_positions.append(peaks(mi, int(params["top_k"])))
    if not trajectories:
        raise DiagnosticError("MI-Peaks: the model generated no tokens for any row")
    mean = mean_trajectory(trajectories)
    mi_mean = float(torch.tensor([v for t in trajectories for v in t]).mean())
    mi_max = max(mean)
    thinking = thinking_tokens(tokens, peak_positions)
    values = {"mi_mean": mi_mean, "mi_max": mi_max, "peak_ratio": mi_max / mi_mean if mi_mean else 0.0}
    data = {"layer": layer, "sigma": float(params["sigma"]), "rows": len(trajectories), "mean_trajectory": mean,
            "mean_peaks": peaks(mean, int(params["top_k"])), "trajectories": trajectories, "tokens": tokens,
            "peaks": peak_positions, "thinking_tokens": thinking, "truncation_bound": bound}
    plot = sink.plot("mi_peaks", "mi_trajectory", mean, {"peaks": data["mean_peaks"], "layer": layer})
    words = ", ".join(f"{w!r} x{c}" for w, c in thinking[:5]) or "none"
    summary = (f"MI-Peaks at L{layer} over {len(trajectories)} rows: mean MI {mi_mean:.3f}, peak of the mean "
               f"trajectory {mi_max:.3f} at step {mean.index(mi_max)}; tokens at peaks: {words}")
    return MethodResult("mi_peaks", values, summary, plot, sink.data("mi_peaks", data),
                        extra_numbers={"layer": float(layer), "truncation_bound": bound})
