import pytest
import torch
from torch_geometric.data import Data, HeteroData

from pyagc.transforms import GSSLTransform, RandomDropEdge, RandomMaskFeat


def graph(num_nodes=200, num_feat=400, num_edges=20000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Data(x=torch.rand(num_nodes, num_feat, generator=g) + 0.1,
                edge_index=torch.randint(0, num_nodes, (2, num_edges), generator=g),
                edge_attr=torch.arange(num_edges, dtype=torch.float).view(-1, 1).repeat(1, 3),
                edge_weight=torch.arange(num_edges, dtype=torch.float),
                y=torch.arange(num_nodes))


@pytest.mark.parametrize("p", [0.0, 0.2, 0.7, 1.0])
def test_mask_feat_rate_and_columns(p):
    data = graph()
    x0 = data.x.clone()
    out = RandomMaskFeat(p, seed=0)(data)
    assert out is not data and torch.equal(data.x, x0)  # input untouched
    zero_cols = (out.x == 0).all(dim=0)
    kept = ~zero_cols
    assert torch.equal(out.x[:, kept], x0[:, kept])  # kept columns unchanged
    assert abs(zero_cols.float().mean().item() - p) < 0.08
    assert torch.equal(out.edge_index, data.edge_index)


def test_drop_edge_rate_alignment_and_input_untouched():
    data = graph()
    ei0 = data.edge_index.clone()
    out = RandomDropEdge(0.3, seed=1)(data)
    assert torch.equal(data.edge_index, ei0) and data.edge_attr.size(0) == 20000
    frac = out.edge_index.size(1) / 20000
    assert abs(frac - 0.7) < 0.02
    kept = out.edge_weight.long()  # edge_weight holds the original edge id
    assert torch.equal(out.edge_index, ei0[:, kept])
    assert torch.equal(out.edge_attr[:, 0].long(), kept)
    assert torch.equal(out.x, data.x) and out.num_nodes == data.num_nodes


def test_gssl_transform_and_determinism():
    data = graph()
    a = GSSLTransform(0.4, 0.5, seed=3)
    b = GSSLTransform(0.4, 0.5, seed=3)
    va1, va2, vb1 = a(data), a(data), b(data)
    assert torch.equal(va1.x, vb1.x) and torch.equal(va1.edge_index, vb1.edge_index)
    assert not torch.equal(va1.edge_index, va2.edge_index)  # the stream moves on
    assert abs((va1.x == 0).float().mean().item() - 0.4) < 0.02  # entry masks by default
    assert abs(va1.edge_index.size(1) / 20000 - 0.5) < 0.02
    assert torch.equal(va1.edge_attr[:, 0], va1.edge_weight)
    assert (data.x != 0).all()
    g1 = torch.Generator().manual_seed(5)
    g2 = torch.Generator().manual_seed(5)
    assert torch.equal(RandomDropEdge(0.5, generator=g1)(data).edge_index,
                       RandomDropEdge(0.5, generator=g2)(data).edge_index)


def test_errors():
    with pytest.raises(ValueError, match="probability"):
        RandomMaskFeat(1.5)
    with pytest.raises(ValueError, match="probability"):
        GSSLTransform(0.2, -0.1)
    with pytest.raises(TypeError, match="Data"):
        RandomDropEdge(0.2)(HeteroData())
    with pytest.raises(ValueError, match="either seed or generator"):
        RandomDropEdge(0.2, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="edge_attr"):
        RandomDropEdge(0.2)(Data(edge_index=torch.zeros(2, 4, dtype=torch.long),
                                 edge_attr=torch.zeros(3, 1), num_nodes=1))


def test_mask_feat_with_p_zero_draws_nothing():
    # Nothing to mask: the features come back as they are, and the stream is not advanced
    # (no [N, F] draws per view).
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    data = graph()
    for mode in ("column", "entry"):
        out = RandomMaskFeat(0.0, generator=gen, mode=mode)(data)
        assert out is not data and out.x is data.x
    assert torch.equal(gen.get_state(), state)
