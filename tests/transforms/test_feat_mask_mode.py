"""GSSLTransform / RandomMaskFeat masking modes: entry-wise (GSSLTransform's default) and
whole dimensions (RandomMaskFeat's default)."""
import pytest
import torch
from torch_geometric.data import Data

from pyagc.encoders import create_tuned_gnn
from pyagc.models import NS4GC
from pyagc.transforms import GSSLTransform, RandomMaskFeat


def _data():
    return Data(x=torch.ones(200, 50), edge_index=torch.randint(200, (2, 400),
                generator=torch.Generator().manual_seed(0)))


def test_entry_mode_masks_each_entry_independently_and_is_seeded():
    data = _data()
    out = RandomMaskFeat(0.3, seed=0, mode="entry")(data)
    assert out.x.shape == data.x.shape and torch.equal(data.x, torch.ones(200, 50))
    assert abs(float((out.x == 0).float().mean()) - 0.3) < 0.03
    # Different rows get different masks (a column mask zeroes whole columns).
    assert not torch.equal(out.x[0], out.x[1])
    assert torch.equal(out.x, RandomMaskFeat(0.3, seed=0, mode="entry")(data).x)
    column = RandomMaskFeat(0.3, seed=0)(data).x
    assert bool((column == column[0]).all())
    with pytest.raises(ValueError, match="mode"):
        RandomMaskFeat(0.3, mode="row")


def test_gssl_transform_masks_entries_by_default_and_passes_the_mode():
    # Entry masks by default, as the published library's GSSLTransform; RandomMaskFeat keeps
    # whole-dimension masks by default, as the published RandomMaskFeat.
    default = GSSLTransform(0.2, 0.3, seed=1)
    assert default.mask_feat.mode == "entry" and RandomMaskFeat(0.2).mode == "column"
    assert torch.equal(default(_data()).x,
                       GSSLTransform(0.2, 0.3, seed=1, feat_mask_mode="entry")(_data()).x)
    column = GSSLTransform(0.2, 0.3, seed=1, feat_mask_mode="column")
    assert column.mask_feat.mode == "column" and "column" in repr(column)
    masked = column(_data()).x
    assert bool((masked == masked[0]).all())
    t = GSSLTransform(0.2, 0.3, seed=1, feat_mask_mode="entry")
    assert t.mask_feat.mode == "entry"
    view = t(_data())
    assert view.edge_index.size(1) < 400
    assert not torch.equal(view.x[0], view.x[1])


def _bow(n=60, f=120, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, f, generator=gen) < 0.03).float()  # CSR-eligible features
    return x, torch.randint(n, (2, 4 * n), generator=gen)


def test_csr_features_are_masked_in_place_of_the_dense_matrix():
    x, edge_index = _bow(200, 300)
    csr = x.to_sparse_csr()
    dense = RandomMaskFeat(0.4, seed=5)(Data(x=x)).x
    sparse = RandomMaskFeat(0.4, seed=5)(Data(x=csr)).x
    assert sparse.layout == torch.sparse_csr
    assert torch.equal(sparse.to_dense(), dense)  # column masks: the same draws
    entry = RandomMaskFeat(0.4, seed=5, mode="entry")(Data(x=csr)).x
    kept = entry.values() != 0
    assert abs(float(kept.float().mean()) - 0.6) < 0.08
    assert bool((entry.to_dense()[x == 0] == 0).all())


def test_two_view_models_use_entry_masked_views_as_given():
    x, edge_index = _bow()
    encoder = create_tuned_gnn("gcn", 120, 8, num_layers=2)
    t1 = GSSLTransform(0.3, 0.2, seed=1, feat_mask_mode="entry")
    t2 = GSSLTransform(0.3, 0.2, seed=2, feat_mask_mode="entry")
    model = NS4GC(encoder, t1, t2)
    h1, _ = model(x, edge_index)
    # The model hands the transform the CSR features (one draw per stored entry).
    ref = GSSLTransform(0.3, 0.2, seed=1, feat_mask_mode="entry")(
        Data(x=x.to_sparse_csr(), edge_index=edge_index))
    assert torch.allclose(h1, encoder(ref.x.to_dense(), ref.edge_index), atol=1e-5)
    config = {"encoder": {"gnn_type": "gcn", "hidden_channels": 8, "num_layers": 2}}
    built = NS4GC.from_config(config, Data(x=x, edge_index=edge_index), 3, seed=0)
    assert built.transform1.mask_feat.mode == "entry"  # the default
    built = NS4GC.from_config({**config, "feat_mask_mode": "column"},
                              Data(x=x, edge_index=edge_index), 3, seed=0)
    assert built.transform2.mask_feat.mode == "column"
