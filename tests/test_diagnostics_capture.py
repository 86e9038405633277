"""Activation capture and the layer convention on a tiny randomly initialised Llama.

``hidden_states[0]`` is the embedding output, ``hidden_states[k+1]`` the residual stream after
decoder block k: a hook on block k must see exactly ``hidden_states[k+1]`` (the last entry has the
final norm applied, the hook does not).
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from deepsight_pytest.diagnostics import capture  # noqa: E402
from deepsight_pytest.diagnostics.methods import spin  # noqa: E402
from deepsight_pytest.diagnostics.base import DiagnosticError  # noqa: E402

BLOCKS = 3


@pytest.fixture(scope="module")
def tiny() -> object:
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=BLOCKS, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=64)
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module")
def batch() -> capture.Encoded:
    ids = torch.randint(1, 64, (3, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0  # left padding, as the backends pad
    mask[2, :4] = 0
    return capture.Encoded(ids, mask, positions=torch.tensor([6, 4, 5]))


@pytest.fixture(scope="module")
def reference(tiny: object, batch: capture.Encoded) -> tuple:
    with torch.no_grad():
        return tiny(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states


def test_blocks_are_found_and_defaults_follow_the_spec(tiny: object) -> None:
    assert capture.decoder_blocks(tiny) is tiny.model.layers
    assert capture.block_count(tiny) == BLOCKS
    assert capture.default_layers(30) == (10, 20)
    assert capture.check_layers([-1, 0, 2, 2], BLOCKS) == (0, 2, 3)
    with pytest.raises(DiagnosticError, match=r"outside hidden_states\[0..3\]"):
        capture.check_layers([4], BLOCKS)


def test_hook_on_block_k_sees_hidden_states_k_plus_1(tiny: object, batch: capture.Encoded, reference: tuple) -> None:
    seen: dict[int, torch.Tensor] = {}
    for layer in range(BLOCKS + 1):
        with capture.layer_hook(tiny, layer, lambda h, layer=layer: seen.__setitem__(layer, h.detach())), torch.no_grad():
            tiny(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    assert len(reference) == BLOCKS + 1
    for layer in range(BLOCKS):  # index 0 (pre-hook on block 0) and blocks 0..L-2
        assert torch.equal(seen[layer], reference[layer]), layer
    # the last block's hook is pre-norm; hidden_states[L] has the final norm applied
    assert not torch.allclose(seen[BLOCKS], reference[BLOCKS])
    assert torch.allclose(tiny.model.norm(seen[BLOCKS]), reference[BLOCKS], atol=1e-6)


def test_pooling_last_mean_and_position(tiny: object, batch: capture.Encoded, reference: tuple) -> None:
    layers = [0, 1, 2]
    out = capture.ActivationCapture(tiny, layers, ("last", "mean", "at")).forward(batch)
    mask = batch.attention_mask.unsqueeze(-1).double()
    for layer in layers:
        hidden = reference[layer].double()
        assert torch.allclose(out["last"][layer].double(), hidden[:, -1], atol=1e-6)
        assert torch.allclose(out["mean"][layer].double(), (hidden * mask).sum(1) / mask.sum(1), atol=1e-6)
        assert torch.allclose(out["at"][layer].double(), hidden[torch.arange(3), batch.positions], atol=1e-6)


def test_capture_keeps_the_graph_for_attributions(tiny: object, batch: capture.Encoded) -> None:
    embeds = tiny.get_input_embeddings()(batch.input_ids).detach().requires_grad_(True)
    with capture.frozen(tiny):
        out = capture.ActivationCapture(tiny, [2], ("last",), keep_graph=True).forward(batch, inputs_embeds=embeds)
        out["last"][2].sum().backward()
    assert embeds.grad is not None and embeds.grad[:, -1].abs().sum() > 0
    assert all(p.grad is None for p in tiny.parameters())  # weights never get gradients
    assert all(p.requires_grad for p in tiny.parameters())  # and are restored afterwards


def test_generic_scan_finds_blocks_under_an_unknown_attribute(tiny: object) -> None:
    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = tiny.config
            self.trunk = torch.nn.Module()
            self.trunk.stack = tiny.model.layers
            self.heads = torch.nn.ModuleList([torch.nn.Linear(2, 2)])

    assert capture.decoder_blocks(Wrapper()) is tiny.model.layers


def test_spin_on_identical_data_sets_couples_every_candidate(tiny: object) -> None:
    class Tokens:  # character-level ids: the tiny model needs no real tokenizer for this check
        def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
            return {"input_ids": [1 + ord(c) % 63 for c in text]}

    samples = [("Q: how are you? A:", " fine, thanks"), ("Q: name a colour. A:", " blue")]
    weights = spin.studied_weights(tiny, [0, 1, 2])
    assert len(weights) == 7 * BLOCKS  # q, k, v, o, gate, up, down
    first = spin.importances(tiny, Tokens(), samples, weights)
    second = spin.importances(tiny, Tokens(), list(samples), weights)
    per_block = spin.coupling_by_block(first, second, {n: b for n, (b, _) in weights.items()}, q=0.01)
    total = sum(per_block.values(), spin.Coupling(0, 0, 0, 0))
    assert total.share == 1.0 and total.coupled == total.first == total.second > 0
    other = spin.importances(tiny, Tokens(), [("Write a limerick about rain.", " There once was a cloud")], weights)
    mixed = sum(spin.coupling_by_block(first, other, {n: b for n, (b, _) in weights.items()}, q=0.01).values(),
                spin.Coupling(0, 0, 0, 0))
    assert mixed.share < 1.0


FAMILIES = ["LlamaConfig", "Qwen2Config", "Qwen3Config", "MistralConfig", "GemmaConfig", "Gemma2Config",
            "Gemma3TextConfig"]


@pytest.mark.parametrize("family", FAMILIES)
def test_layer_convention_holds_across_families(family: str) -> None:
    config_type = getattr(transformers, family, None)
    if config_type is None:
        pytest.skip(f"transformers {transformers.__version__} has no {family}")
    config = config_type(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=BLOCKS,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    ids = torch.randint(1, 64, (2, 6), generator=torch.Generator().manual_seed(2))
    batch = capture.Encoded(ids, torch.ones_like(ids))
    with torch.no_grad():
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    out = capture.ActivationCapture(model, range(BLOCKS), ("last",)).forward(batch)["last"]
    assert capture.block_count(model) == BLOCKS
    for layer in range(BLOCKS):  # hidden_states[0] (embeddings, scaled in Gemma) .. [L-1]
        assert torch.allclose(out[layer], hidden[layer][:, -1].float(), atol=1e-5), (family, layer)
