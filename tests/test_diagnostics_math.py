"""Known answers for the DeepScan quantities on synthetic activations (no model, torch only)."""
from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")

from deepsight_pytest.diagnostics import DIAGNOSTICS, entry, is_entry  # noqa: E402
from deepsight_pytest.diagnostics.methods import mi_peaks, spin, tellme, xboundary  # noqa: E402
from deepsight_pytest.diagnostics.base import MethodResult  # noqa: E402
from deepsight_pytest.diagnostics.checks import DeepScanCheck, parse_mark  # noqa: E402
from deepsight_pytest.errors import ConfigError, SpecError  # noqa: E402


def cluster(centre: list[float], n: int, seed: int, spread: float = 0.1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.tensor(centre, dtype=torch.float64) + spread * torch.randn(n, len(centre), generator=generator,
                                                                            dtype=torch.float64)


# -- X-Boundary ----------------------------------------------------------------------------------
def test_xboundary_identical_clusters_have_zero_separation() -> None:
    block = cluster([1.0, 2.0, 3.0], 8, seed=0)
    scores = xboundary.scores({"harmful": block, "safe": block.clone(), "boundary": block.clone() + 0.0})
    assert scores["separation"] == pytest.approx(0.0, abs=1e-12)


def test_xboundary_known_centroids() -> None:
    # exact centroids: each class is symmetric around its centre
    offsets = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]], dtype=torch.float64)
    safe = torch.tensor([3.0, 0, 0], dtype=torch.float64) + offsets
    harmful = torch.tensor([0, 4.0, 0], dtype=torch.float64) + offsets
    midpoint = torch.tensor([1.5, 2.0, 0], dtype=torch.float64) + offsets
    near_safe = torch.tensor([3.0, 1.0, 0], dtype=torch.float64) + offsets
    assert xboundary.scores({"safe": safe, "harmful": harmful})["separation"] == pytest.approx(5.0)
    assert xboundary.scores({"safe": safe, "harmful": harmful, "boundary": midpoint})["boundary_ratio"] == pytest.approx(1.0)
    # |(3,1)-(3,0)| = 1, |(3,1)-(0,4)| = sqrt(18)
    ratio = xboundary.scores({"safe": safe, "harmful": harmful, "boundary": near_safe})["boundary_ratio"]
    assert ratio == pytest.approx(1 / math.sqrt(18))


def test_xboundary_orthogonal_clusters_separate_more_than_identical_ones() -> None:
    a = cluster([5.0, 0, 0, 0], 16, seed=1)
    b = cluster([0, 5.0, 0, 0], 16, seed=2)
    far = xboundary.scores({"safe": a, "harmful": b})["separation"]
    near = xboundary.scores({"safe": a, "harmful": cluster([5.0, 0, 0, 0], 16, seed=3)})["separation"]
    assert far == pytest.approx(5 * math.sqrt(2), rel=0.05) and near < 0.2


def test_pca_2d_keeps_the_main_axis() -> None:
    points = torch.tensor([[t, 0.01 * t * t, 0.0] for t in range(-5, 6)], dtype=torch.float64)
    coords, basis, _ = xboundary.pca_2d(points)
    assert coords.shape == (11, 2) and abs(float(basis[0, 0])) == pytest.approx(1.0, abs=1e-3)


# -- TELLME --------------------------------------------------------------------------------------
def test_tellme_identical_classes_have_zero_coding_rate_gap() -> None:
    half = cluster([1.0, -2.0, 0.5, 3.0, 0.0], 6, seed=4, spread=1.0)
    rates = tellme.coding_rates(torch.cat([half, half]), [0] * 6 + [1] * 6)
    assert rates["r_gap"] == pytest.approx(0.0, abs=1e-9)
    assert rates["r_diff"] > 0


def test_tellme_orthogonal_one_hot_classes_match_the_closed_form() -> None:
    d, m1, eps = 6, 4, 0.1
    safe = torch.zeros(m1, d, dtype=torch.float64)
    safe[:, 0] = 2.0
    unsafe = torch.zeros(m1, d, dtype=torch.float64)
    unsafe[:, 1] = 3.0
    m = 2 * m1
    rates = tellme.coding_rates(torch.cat([safe, unsafe]), [0] * m1 + [1] * m1, eps)
    # columns normalised: Z^T Z = diag(1, 1, 0, ...); each class contributes one unit eigenvalue
    assert rates["r_diff"] == pytest.approx(math.log(1 + d / (m * eps)))
    assert rates["r_same"] == pytest.approx(0.5 * math.log(1 + d / (m1 * eps)))
    assert rates["r_gap"] > 0


def test_tellme_gap_orders_orthogonal_above_identical_clusters() -> None:
    a = cluster([4.0, 0, 0, 0, 0, 0], 10, seed=5)
    b = cluster([0, 0, 0, 4.0, 0, 0], 10, seed=6)
    same = cluster([4.0, 0, 0, 0, 0, 0], 10, seed=7)
    labels = [0] * 10 + [1] * 10
    assert tellme.coding_rates(torch.cat([a, b]), labels)["r_gap"] > tellme.coding_rates(torch.cat([a, same]), labels)["r_gap"]


def test_tellme_effective_rank_of_k_orthogonal_directions_is_k() -> None:
    k, d = 4, 9
    rows = [sign * torch.eye(d, dtype=torch.float64)[i] for i in range(k) for sign in (1, -1)]
    assert tellme.effective_rank(torch.stack(rows)) == pytest.approx(k)


def test_tellme_distances_use_every_pair_with_unbalanced_classes() -> None:
    safe = cluster([1.0, 2.0, 0.0, -1.0], 3, seed=8, spread=1.0)
    unsafe = cluster([-1.0, 0.0, 2.0, 1.0], 5, seed=9, spread=1.0)
    got = tellme.distances(safe, unsafe)
    pairs = list(itertools.product(safe, unsafe))
    angle = sum(math.degrees(math.acos(float(torch.dot(a, b) / (a.norm() * b.norm())))) for a, b in pairs) / 15
    pearson = sum(float(torch.corrcoef(torch.stack([a, b]))[0, 1]) for a, b in pairs) / 15
    l2 = sum(float((a - b).norm()) for a, b in pairs) / 15
    l1 = sum(float((a - b).abs().sum()) for a, b in pairs) / 15
    hausdorff = max(max(min(float((a - b).norm()) for b in unsafe) for a in safe),
                    max(min(float((a - b).norm()) for a in safe) for b in unsafe))
    assert got == pytest.approx({"cos_angle_deg": angle, "pearson": pearson, "l2": l2, "l1": l1,
                                 "hausdorff": hausdorff})


def test_tellme_orthogonal_unit_rows_are_ninety_degrees_apart() -> None:
    eye = torch.eye(4, dtype=torch.float64)
    got = tellme.distances(eye[:2], eye[2:])
    assert got["cos_angle_deg"] == pytest.approx(90.0)
    assert got["l2"] == pytest.approx(math.sqrt(2)) and got["l1"] == pytest.approx(2.0)


# -- MI-Peaks ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vectors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(10)
    x = 3.0 * torch.randn(96, generator=generator, dtype=torch.float64)
    return {"x": x, "independent": 3.0 * torch.randn(96, generator=generator, dtype=torch.float64)}


def test_mi_of_identical_vectors_exceeds_independent_ones(vectors: dict[str, torch.Tensor]) -> None:
    same = mi_peaks.mi_direct(vectors["x"], vectors["x"])
    other = mi_peaks.mi_direct(vectors["x"], vectors["independent"])
    assert same > 10 * abs(other)
    # identical: trace(R^2) = sum of g_i^2 over the spectrum of H K H
    values = torch.linalg.eigvalsh(mi_peaks.double_centred_kernel(vectors["x"])).clamp(min=0)
    lam = 1e-5 * 96
    assert same == pytest.approx(float(((values / (values + lam)) ** 2).sum()), rel=1e-6)


def test_vectorised_mi_equals_the_direct_formula(vectors: dict[str, torch.Tensor]) -> None:
    estimator = mi_peaks.MIEstimator(device="cpu")
    states = torch.stack([vectors["x"], vectors["independent"], vectors["x"] * 0.5 + 1.0])
    values, bound = estimator(states, estimator.reference(vectors["x"]))
    direct = [mi_peaks.mi_direct(s, vectors["x"]) for s in states]
    assert bound <= 1e-6
    assert values.tolist() == pytest.approx(direct, abs=1e-6)


def test_vectorised_mi_full_rank_fallback_equals_the_direct_formula(vectors: dict[str, torch.Tensor]) -> None:
    estimator = mi_peaks.MIEstimator(device="cpu", max_rank=2)  # forces the eigendecomposition path
    values, bound = estimator(vectors["independent"].unsqueeze(0), estimator.reference(vectors["x"]))
    assert bound < 1e-6
    assert float(values[0]) == pytest.approx(mi_peaks.mi_direct(vectors["independent"], vectors["x"]), abs=1e-6)


def test_mi_peaks_helpers() -> None:
    assert mi_peaks.peaks([0.1, 0.9, 0.2, 0.8, 0.3], 2) == [1, 3]
    assert mi_peaks.mean_trajectory([[1.0, 2.0, 3.0], [3.0]]) == [2.0, 2.0, 3.0]
    tokens = [[" Wait", ",", " so"], [" Wait", " the", "2"]]
    assert mi_peaks.thinking_tokens(tokens, [[0, 1], [0, 2]]) == [("Wait", 2)]


# -- SPIN ----------------------------------------------------------------------------------------
def test_spin_identical_importances_couple_fully_and_disjoint_ones_not_at_all() -> None:
    importance = torch.arange(100, dtype=torch.float32).reshape(10, 10)
    same = spin.couple(importance, importance.clone(), q=0.05)
    assert (same.coupled, same.first, same.share) == (5, 5, 1.0)
    reverse = spin.couple(importance, importance.flip(0).flip(1), q=0.05)
    assert reverse.coupled == 0 and reverse.share == 0.0
    assert spin.candidate_count(576 * 576, 5e-7) == 1  # at least one candidate per weight


def test_spin_coupling_sums_weights_per_block() -> None:
    a = torch.arange(20, dtype=torch.float32)
    first = {"0.q": a, "0.k": a, "1.q": a}
    second = {"0.q": a, "0.k": a.flip(0), "1.q": a}
    blocks = spin.coupling_by_block(first, second, {"0.q": 0, "0.k": 0, "1.q": 1}, q=0.1)
    assert blocks[0].coupled == 2 and blocks[0].numel == 40 and blocks[0].ratio == pytest.approx(2 / 40)
    assert blocks[1].share == 1.0


# -- the entry schema, bounds, and the registry contract -----------------------------------------
def test_entry_follows_the_schema_and_drops_non_finite_numbers() -> None:
    item = entry("xboundary", "two\nlines", {"a": 1, "b": float("nan"), "c": float("inf")}, None, "/x.json")
    assert item == {"method": "xboundary", "summary": "two lines", "numbers": {"a": 1.0}, "plot": None,
                    "data": "/x.json"}
    assert is_entry(item) and not is_entry({**item, "numbers": {"a": "1"}})


def test_bounds_check_every_layer() -> None:
    spec = parse_mark(("xboundary",), {"n": 4, "separation": (1.0, None), "boundary_ratio_max": 0.5}, "t.py::x")
    assert spec.params == {"n": 4} and spec.bounds == {"separation": (1.0, None), "boundary_ratio": (None, 0.5)}
    result = MethodResult("xboundary", {"separation": {10: 3.0, 20: 0.5}, "boundary_ratio": {10: 0.4, 20: 0.4}}, "s")
    check = DeepScanCheck.evaluate(spec, result)
    assert not check.passed and check.failures == ["separation at layer 20 = 0.5 outside [1, inf]"]
    assert "separation at layer 20" in check.message()


@pytest.mark.parametrize("kwargs, message", [
    ({"separaton": (0, 1)}, "unknown argument 'separaton' (did you mean 'separation'?)"),
    ({"separation": 3}, "takes a (low, high) pair"),
    ({"n": 1}, "n must be an integer of at least 2"),
    ({"sets": {"nonsense": "advbench"}}, "has no class(es) nonsense"),
    ({"sets": {"safe": "no-such-benchmark"}}, "unknown benchmark 'no-such-benchmark'"),
])
def test_bad_mark_arguments_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_mark(("xboundary",), kwargs, "t.py::x")
    assert message in str(info.value) and str(info.value).startswith("t.py::x") and "\n" not in str(info.value)


def test_unknown_method_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match="known: mi_peaks, refusal_direction, spin, tellme"):
        parse_mark(("tellmee",), {}, "t.py::x")


@pytest.mark.parametrize("name", DIAGNOSTICS.names())
def test_every_diagnostic_declares_its_metadata(name: str) -> None:
    spec = DIAGNOSTICS.get(name)
    assert spec.name == name and spec.version and spec.kind in {"method", "case"} and spec.metrics
    assert all(m.better in {"higher", "lower", "band", "neither"} for m in spec.metrics)
    assert callable(spec.load_runner())
    if spec.kind == "method":
        assert {"n", "sets", "seed", "max_new_tokens"} <= set(spec.defaults)


# -- plots ---------------------------------------------------------------------------------------
def test_every_plot_kind_renders_a_png_and_reused_figures_follow_the_data(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from deepsight_pytest.diagnostics.plots import RENDERERS, Painter

    painter = Painter()
    layers = list(range(1, 7))
    curve = {"layers": layers, "projection": [1.0] * 6, "reference_mean": [2.0] * 6, "reference_std": [0.5] * 6,
             "harmless_mean": [0.0] * 6, "reference_label": "refused"}
    points = {"safe": [[0.0, 0.0], [1.0, 1.0]], "harmful": [[3.0, 3.0], [4.0, 2.0]]}
    calls = [
        ("refusal_layers", (curve, 3)), ("refusal_layers", ({**curve, "projection": [9.0] * 6}, 4)),
        ("position", ([{"layer": 2, "points": points, "case": [0.5, 0.5], "position": 0.1}],)),
        ("position", ([{"layer": 2, "points": points, "case": [40.0, -9.0], "position": 0.9}],)),
        ("attribution", ([" a", " b"], [0.5, -1.0])), ("attribution", ([" c", " d"], [2.0, 1.0])),
        ("xboundary_panels", ([{"layer": 2, "points": points}], {"separation": {2: 1.5}})),
        ("tellme_panels", ([{"layer": 2, "points": {"safe": points["safe"], "unsafe": points["harmful"]}}], {})),
        ("spin_blocks", ([{"block": 0, "coupled": 3}, {"block": 1, "coupled": 1}], {"coupling": 0.5})),
        ("mi_trajectory", ([0.1, 0.5, 0.2], {"peaks": [1], "layer": 4})),
    ]
    sizes = []
    for index, (kind, args) in enumerate(calls):
        path = tmp_path / f"{index}-{kind}.png"
        painter.render(kind, path, *args)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        sizes.append(path.read_bytes())
    assert sizes[0] != sizes[1] and sizes[2] != sizes[3] and sizes[4] != sizes[5]  # reused, redrawn
    assert {"xboundary_panels", "tellme_panels", "spin_blocks", "mi_trajectory"} <= set(RENDERERS)
