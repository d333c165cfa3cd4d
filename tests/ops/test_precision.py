import pytest
import torch

from pyagc.ops import precision
from pyagc.ops.precision import bf16_matmul_is_fast


@pytest.mark.parametrize("amx, avx512_bf16, expected", [
    (True, False, True),    # Sapphire Rapids class
    (False, True, True),    # AVX-512 BF16 without AMX (Zen 4 class)
    (False, False, False),  # bfloat16 emulated: slower than float32
])
def test_bf16_is_fast_on_cpus_with_native_bf16_dot_products(monkeypatch, amx, avx512_bf16,
                                                            expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16,
                        raising=False)
    assert bf16_matmul_is_fast(torch.device("cpu")) is expected
    assert bf16_matmul_is_fast("cpu") is expected


def test_bf16_probe_is_false_off_cpu_and_when_torch_cannot_tell(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert not bf16_matmul_is_fast(torch.device("cuda"))

    def broken():
        raise RuntimeError("cpuinfo unavailable")

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert not precision.bf16_matmul_is_fast(torch.device("cpu"))
