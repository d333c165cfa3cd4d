import torch
from torch_geometric.utils import to_undirected

from pyagc.encoders import create_tuned_gnn
from pyagc.ops.sparse import csr_matmul, transpose_csr


def test_csr_matmul_gradient_goes_through_the_given_transpose():
    g = torch.Generator().manual_seed(0)
    dense_a = (torch.rand(7, 5, generator=g, dtype=torch.double) < 0.4).double()
    dense_a *= torch.rand(7, 5, generator=g, dtype=torch.double)
    a = dense_a.to_sparse_csr()
    x = torch.randn(5, 3, generator=g, dtype=torch.double, requires_grad=True)
    assert torch.allclose(transpose_csr(a).to_dense(), dense_a.t())
    torch.autograd.gradcheck(lambda t: csr_matmul(a, t, transpose_csr(a)), (x,))
    out = csr_matmul(a, x, transpose_csr(a))
    assert torch.allclose(out, dense_a @ x)
    # A wrong "transpose" shows in the gradient: the given one is what the backward uses.
    fake = torch.zeros(5, 7, dtype=torch.double).to_sparse_csr()
    csr_matmul(a, x, fake).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_gcn_on_csr_inputs_has_the_dense_gradients():
    torch.manual_seed(3)
    x = (torch.rand(40, 30) < 0.04).float()
    ei = torch.randint(0, 40, (2, 160))
    ei = to_undirected(ei[:, ei[0] != ei[1]])  # no duplicate edges, no self-loops
    auto = create_tuned_gnn("gcn", 30, 8, 2, act="selu", cached=True)
    off = create_tuned_gnn("gcn", 30, 8, 2, act="selu", sparse_inputs="off")
    off.load_state_dict(auto.state_dict())
    for _ in range(2):  # the second pass uses the cached transposes
        for enc in (auto, off):
            enc.zero_grad()
            (enc(x, ei) ** 2).sum().backward()
        for (name, p), q in zip(auto.named_parameters(), off.parameters()):
            assert torch.allclose(p.grad, q.grad, atol=1e-5), name
