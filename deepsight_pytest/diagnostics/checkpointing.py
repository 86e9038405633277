"""Activation checkpointing of the decoder blocks for the attribution (gradient) pass.

Without it autograd keeps every intermediate of every block below the reference layer (attention
inputs and outputs, the MLP's ``intermediate_size`` activations): about 1 MB per token on
SmolLM2, so a 2k-token prompt needs gigabytes. Checkpointed, each block keeps only its input
(``hidden_size`` floats per token) and recomputes its intermediates one block at a time during the
backward pass: memory per token falls by an order of magnitude for one extra forward through those
blocks. transformers' own ``gradient_checkpointing_enable`` only acts in training mode (which would
switch dropout on), so the blocks' ``forward`` is wrapped here instead, for the pass only.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from deepsight_pytest.diagnostics.capture import decoder_blocks


def _checkpointed(forward: Callable[..., Any]) -> Callable[..., Any]:
    from torch.utils.checkpoint import checkpoint

    def run(*args: Any, **kwargs: Any) -> Any:
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return run


@contextmanager
def checkpointed_blocks(model: Any, upto: int) -> Iterator[None]:
    """Blocks ``0 .. upto-1`` (those below ``hidden_states[upto]``) recompute their activations in
    the backward pass instead of keeping them; the original ``forward`` is restored afterwards.
    Forward hooks still fire once (they wrap the module call, not ``forward``)."""
    blocks = list(decoder_blocks(model))[: max(0, upto)]
    own = [block.__dict__.get("forward") for block in blocks]  # accelerate may have wrapped it already
    for block in blocks:
        block.forward = _checkpointed(block.forward)
    try:
        yield
    finally:
        for block, previous in zip(blocks, own):
            if previous is None:
                del block.forward  # the class's forward shows again
            else:
                block.forward = previous
