"""Checkpointed blocks in the attribution pass give the same gradients as a full graph (plumbing on
a randomly initialised tiny Llama: the arithmetic, not the model, is under test)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from deepsight_pytest.diagnostics.capture import ActivationCapture, decoder_blocks, frozen  # noqa: E402
from deepsight_pytest.diagnostics.checkpointing import checkpointed_blocks  # noqa: E402


def _tiny_random_llama():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.LlamaForCausalLM(config).eval()


def _attribution(model, ids, mask, layer, checkpoint: bool):
    class Encoded:
        input_ids, attention_mask = ids, mask

        def model_inputs(self):
            return {"attention_mask": mask}

    calls = []
    capture = ActivationCapture(model, [layer], ("last",), keep_graph=True, stop_early=True)
    handle = decoder_blocks(model)[0].register_forward_hook(lambda *_: calls.append(1))
    with frozen(model):
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        if checkpoint:
            with checkpointed_blocks(model, layer):
                state = capture.forward(Encoded(), inputs_embeds=embeds)["last"][layer]
                state.sum().backward()
        else:
            state = capture.forward(Encoded(), inputs_embeds=embeds)["last"][layer]
            state.sum().backward()
    handle.remove()
    return (embeds.grad * embeds).sum(-1), len(calls)


def test_checkpointed_gradient_equals_the_full_graph_random_tiny_model():
    model = _tiny_random_llama()
    ids = torch.tensor([[0, 5, 9, 3, 7, 11], [0, 0, 4, 8, 15, 2]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    full, full_calls = _attribution(model, ids, mask, 3, checkpoint=False)
    ckpt, ckpt_calls = _attribution(model, ids, mask, 3, checkpoint=True)
    assert torch.allclose(full, ckpt, atol=1e-6), (full - ckpt).abs().max()
    assert full_calls == ckpt_calls == 1  # a forward hook fires once, not again on recomputation
    assert all("forward" not in block.__dict__ for block in decoder_blocks(model))  # restored
