import pytest
import torch

from pyagc.ops import randomized_svd


def low_rank(n=300, f=80, rank=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(n, rank, generator=gen, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(f, rank, generator=gen, dtype=torch.float64))[0]
    s = torch.tensor([50.0, 30.0, 20.0, 10.0, 5.0, 2.0], dtype=torch.float64)[:rank]
    noise = 1e-3 * torch.randn(n, f, generator=gen, dtype=torch.float64)
    return u @ torch.diag(s) @ v.T + noise


def test_matches_exact_svd():
    a = low_rank()
    u, s, vh = randomized_svd(a, 4, n_oversamples=6, n_iter=3, seed=1)
    ue, se, vhe = torch.linalg.svd(a, full_matrices=False)
    torch.testing.assert_close(s, se[:4], rtol=1e-6, atol=1e-6)
    # same subspaces (signs aside)
    torch.testing.assert_close(u @ u.T, ue[:, :4] @ ue[:, :4].T, atol=1e-6, rtol=0)
    torch.testing.assert_close(vh.T @ vh, vhe[:4].T @ vhe[:4], atol=1e-6, rtol=0)
    torch.testing.assert_close(u.T @ u, torch.eye(4, dtype=a.dtype), atol=1e-10, rtol=0)


def test_deterministic_and_sign_convention():
    a = low_rank().float()
    u1 = randomized_svd(a, 3, seed=7)[0]
    u2 = randomized_svd(a, 3, seed=7)[0]
    assert torch.equal(u1, u2)
    idx = u1.abs().argmax(0)
    assert (u1[idx, torch.arange(3)] > 0).all()


def test_small_matrix_uses_exact_path():
    a = torch.randn(5, 4, dtype=torch.float64)
    u, s, vh = randomized_svd(a, 2)
    torch.testing.assert_close(s, torch.linalg.svdvals(a)[:2])


def test_errors():
    a = torch.randn(10, 5)
    with pytest.raises(ValueError, match="k must"):
        randomized_svd(a, 6)
    with pytest.raises(TypeError, match="dense"):
        randomized_svd(a.to_sparse(), 2)
