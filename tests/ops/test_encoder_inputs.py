import copy

import pytest
import torch
from torch_geometric.nn import GCN, GCNConv, GraphSAGE

from pyagc.data import make_csbm
from pyagc.models import GAE
from pyagc.ops.encoder_inputs import (EncoderInputCache, TensorCache, encoder_accepts_sparse,
                                      permute_rows, to_sparse_adjacency)
from pyagc.ops.negative_sampling import edge_keys, sample_negative_edges


def test_sparse_adjacency_is_the_transposed_adjacency():
    ei = torch.tensor([[0, 0, 2], [1, 2, 1]])
    adj_t = to_sparse_adjacency(ei, 3).to_dense()
    dense = torch.zeros(3, 3)
    dense[ei[0], ei[1]] = 1
    assert torch.equal(adj_t, dense.t())


def test_permute_rows_of_csr_matches_dense():
    torch.manual_seed(0)
    x = torch.rand(20, 7)
    x[x < 0.7] = 0
    perm = torch.randperm(20)
    assert torch.equal(permute_rows(x.to_sparse_csr(), perm).to_dense(), x[perm])


def test_gcn_gives_the_same_output_on_sparse_inputs():
    data = make_csbm(100, 3, num_features=400, features="sparse", seed=0)
    torch.manual_seed(0)
    enc = GCN(400, 16, num_layers=2)
    cache = EncoderInputCache("auto")
    x, adj, w = cache(enc, data.x, data.edge_index)
    assert adj.layout == torch.sparse_csr and x.layout == torch.sparse_csr
    assert torch.allclose(enc(x, adj), enc(data.x, data.edge_index), atol=1e-5)
    # Cached: the same objects come back for the same inputs.
    x2, adj2, _ = cache(enc, data.x, data.edge_index)
    assert x2 is x and adj2 is adj


def test_only_gcn_encoders_are_converted():
    assert encoder_accepts_sparse(GCNConv(4, 4))
    assert encoder_accepts_sparse(GCN(4, 4, num_layers=2))
    assert not encoder_accepts_sparse(GraphSAGE(4, 4, num_layers=2))
    x, ei = torch.randn(5, 4), torch.tensor([[0, 1], [1, 0]])
    out = EncoderInputCache("auto")(GraphSAGE(4, 4, num_layers=2), x, ei)
    assert out[0] is x and out[1] is ei
    with pytest.raises(ValueError, match="sparse_inputs"):
        EncoderInputCache("always")


def test_tensor_cache_misses_after_in_place_edit():
    calls = []
    cache = TensorCache(lambda t: calls.append(1) or t.sum().item())
    t = torch.ones(3)
    assert cache(t) == 3 and cache(t) == 3 and len(calls) == 1
    t.add_(1)
    assert cache(t) == 6 and len(calls) == 2


def test_models_with_caches_deepcopy():
    data = make_csbm(50, 2, num_features=8, seed=0)
    model = GAE(GCN(8, 8, num_layers=2))
    model.loss(data.x, data.edge_index)
    clone = copy.deepcopy(model)
    assert torch.allclose(clone.embed(data.x, data.edge_index), model.embed(data.x, data.edge_index))


def test_negative_samples_avoid_edges():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    keys = edge_keys(ei, 3)
    neg = sample_negative_edges(3, 500, keys, generator=torch.Generator().manual_seed(0))
    pairs = set(map(tuple, neg.t().tolist()))
    assert pairs <= {(0, 2), (2, 0)} and pairs


def test_sparse_adjacency_dtype_is_part_of_the_cache_key():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    assert to_sparse_adjacency(ei, 3, dtype=torch.float64).values().dtype == torch.float64
    cache = EncoderInputCache()
    single = cache.adjacency(ei, 3)
    double = cache.adjacency(ei, 3, dtype=torch.float64)
    assert single.values().dtype == torch.float32 and double.values().dtype == torch.float64
    assert cache.adjacency(ei, 3, dtype=torch.float64) is double
    weighted = cache.adjacency(ei, 3, torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.float64)
    assert weighted.values().dtype == torch.float64


def test_tensor_cache_keys_on_every_tensor_input_and_the_other_values():
    calls = []

    def fn(a, b, scale):
        calls.append(1)
        return (a.sum() + (0 if b is None else b.sum())) * scale

    cache = TensorCache(fn)
    a, b = torch.ones(3), torch.ones(2)
    assert cache(a, b, 2) == 10 and cache(a, b, 2) == 10 and len(calls) == 1
    b.add_(1)                                   # in-place edit of the second tensor
    assert cache(a, b, 2) == 14 and len(calls) == 2
    assert cache(a, b.clone(), 2) == 14 and len(calls) == 3   # same values, another tensor
    assert cache(a, None, 2) == 6 and cache(a, None, 3) == 9 and len(calls) == 5
