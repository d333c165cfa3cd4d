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


def test_gram_r_factor_is_the_qr_triangle():
    from pyagc.ops import gram_r_factor
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(500, 12, generator=gen)
    r = gram_r_factor(a, chunk_rows=64)                       # several chunks
    assert r.dtype == torch.float64 and torch.equal(r, torch.triu(r)) and (r.diagonal() > 0).all()
    r_qr = torch.linalg.qr(a.double(), mode="r")[1]
    torch.testing.assert_close(r, r_qr * torch.sign(r_qr.diagonal()).unsqueeze(1))
    q = a.double() @ torch.linalg.inv(r)                      # Q = A R^{-1} is orthonormal
    torch.testing.assert_close(q.T @ q, torch.eye(12, dtype=torch.float64))


def test_gram_r_factor_refuses_ill_conditioned_and_wide_inputs():
    from pyagc.ops import gram_r_factor
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(200, 6, generator=gen)
    a[:, 5] = a[:, 4]                                          # rank-deficient
    assert gram_r_factor(a) is None
    a[:, 5] += 1e-3 * torch.randn(200, generator=gen)          # kappa ~ 1e3
    assert gram_r_factor(a) is not None and gram_r_factor(a, max_condition=100) is None
    with pytest.raises(ValueError, match="tall"):
        gram_r_factor(torch.randn(3, 5))
