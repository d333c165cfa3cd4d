"""Shared by the tests of whole-graph refreshes (DAEGC, DinkNet)."""
from contextlib import contextmanager


@contextmanager
def recorded_inference_blocks(encoder_cls):
    """Within the block, every ``encoder_cls.inference`` call (layer-wise inference) appends
    its ``batch_size`` to the yielded list."""
    blocks = []
    inference = encoder_cls.inference

    def spy(encoder, *args, batch_size=None, **kwargs):
        blocks.append(batch_size)
        return inference(encoder, *args, batch_size=batch_size, **kwargs)

    encoder_cls.inference = spy
    try:
        yield blocks
    finally:
        encoder_cls.inference = inference
