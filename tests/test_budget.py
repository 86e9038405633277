"""The token-budget batcher (pure planning, no model) and the halving retry (a raised allocator
error, the message accelerate recognises: plumbing, no real OOM)."""
from __future__ import annotations

import pytest

from deepsight_pytest.models.budget import TooLarge, graph_cost, plan_batches, run_halving, token_bytes


def test_batches_hold_the_token_budget_and_every_row_once() -> None:
    lengths = [10, 400, 30, 200, 200, 5, 90, 399]
    plan = plan_batches(lengths, budget=820, new_tokens=10)
    assert sorted(i for g in plan.groups for i in g) == list(range(len(lengths)))
    assert not plan.too_large
    for group in plan.groups:
        width = max(lengths[i] for i in group) + 10
        assert len(group) * width <= 820
    assert [len(g) for g in plan.groups][0] == 2  # the two ~400-token prompts share a batch
    assert len(plan.groups[-1]) > 2  # short prompts go in larger batches


def test_row_cap_and_too_large_rows() -> None:
    plan = plan_batches([5] * 10 + [1000], budget=500, max_rows=4)
    assert plan.too_large == [10]
    assert [len(g) for g in plan.groups] == [4, 4, 2]


def test_graph_cost_weighs_tokens_by_the_layers_kept() -> None:
    class Config:
        hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads = 576, 30, 9, 3
        intermediate_size = 1536

    assert token_bytes(Config()) > 0
    assert 1.0 < graph_cost(Config(), 10) < graph_cost(Config(), 20)
    # checkpointed blocks keep their inputs only: 20 blocks weigh well under 20 blocks' intermediates
    assert graph_cost(Config(), 20) < 2.0
    plan = plan_batches([100, 100], budget=250, cost=graph_cost(Config(), 20))
    assert plan.groups == [[0], [1]] and not plan.too_large
    assert plan_batches([2000], budget=2000, cost=graph_cost(Config(), 20)).too_large == [0]


def test_out_of_memory_halves_the_batch_then_skips_a_row_that_fails_alone() -> None:
    calls: list[list[int]] = []

    def run(rows: list[int]) -> list[int]:
        calls.append(list(rows))
        if len(rows) > 2 or 7 in rows:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")
        return [r * 10 for r in rows]

    out = run_halving([1, 2, 3, 4, 7, 8], run)
    assert out[:4] == [10, 20, 30, 40] and out[5] == 80
    assert isinstance(out[4], TooLarge)
    assert calls[0] == [1, 2, 3, 4, 7, 8] and calls[1] == [1, 2, 3]


def test_other_errors_are_not_swallowed() -> None:
    def run(rows: list[int]) -> list[int]:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        run_halving([1, 2], run)
