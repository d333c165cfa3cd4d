"""Where bfloat16 matrix products pay: a probe of the device's native bfloat16 support."""
from __future__ import annotations

from typing import Callable, Optional

import torch

__all__ = ["bf16_matmul_is_fast"]


def _probe(name: str) -> bool:
    check: Optional[Callable[[], bool]] = getattr(torch.cpu, name, None)
    if check is None:
        return False
    try:
        return bool(check())
    except RuntimeError:
        return False


def bf16_matmul_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 matrix products are the fast path on ``device``: CPUs with native
    bfloat16 dot products, i.e. AMX tiles or the AVX-512 BF16 instructions, where oneDNN runs
    them several times faster than float32. One thread, ``[n, d] @ [d, n]``, float32 /
    bfloat16 time: AMX (Sapphire Rapids class) 2708 x 512 5.9x (226 ms / 38 ms); AVX-512 BF16
    without AMX (AMD EPYC, Zen 4 class) 2708 x 512 3.2x (140 ms / 43 ms), 1000 x 512 2.1x,
    600 x 64 2.0x, 16384 x 256 2.6x. Not on GPUs (float32 / TF32 are fast there) nor on other
    CPUs, where bfloat16 is emulated and slower than float32."""
    if torch.device(device).type != "cpu":
        return False
    return _probe("_is_amx_tile_supported") or _probe("_is_avx512_bf16_supported")
