import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

import pyagc.models.s3gc as s3gc_module
from pyagc.clusters import KMeansClusterHead
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.models import S3GC, LossOutput
from pyagc.models.s3gc import diffusion_coefficients, precompute_features


@pytest.fixture(scope="module")
def small():
    return make_csbm(80, 2, avg_degree=6, num_features=5, seed=1)


def _model(graph, **kwargs):
    args = dict(hidden_channels=8, walk_length=4, context_size=3, walks_per_node=2, seed=0)
    args.update(kwargs)
    model = S3GC(graph.edge_index, graph.num_nodes, graph.num_features, **args)
    model.set_precomputed_features(*precompute_features(graph.x, graph.edge_index,
                                                        graph.num_nodes))
    return model


def _dense_adjacency(edge_index, n):
    a = np.zeros((n, n))
    a[edge_index[1].numpy(), edge_index[0].numpy()] = 1.0
    a += np.eye(n)
    d = a.sum(1) ** -0.5
    return d[:, None] * a * d[None, :]


@pytest.mark.parametrize("method,kwargs", [("ppr", {"alpha": 0.3}), ("heat", {"t": 2.0}),
                                           ("custom", {"coefs": [0.5, 0.3, 0.2]})])
def test_precompute_features_equals_a_dense_reference(small, method, kwargs):
    k = 2 if method == "custom" else 4
    ax, sx = precompute_features(small.x, small.edge_index, 80, method=method, k_hop=k,
                                 **kwargs)
    a = _dense_adjacency(small.edge_index, 80)
    x = small.x.double().numpy()
    if method == "ppr":  # power iteration Z <- (1 - alpha) A Z + alpha X from Z = X
        ref = x.copy()
        for _ in range(k):
            ref = 0.7 * a @ ref + 0.3 * x
    elif method == "heat":  # Taylor terms of exp(-t (I - A)) X, renormalised
        w = np.array([math.exp(-2.0) * 2.0 ** l / math.factorial(l) for l in range(k + 1)])
        ref = sum(c / w.sum() * np.linalg.matrix_power(a, l) @ x for l, c in enumerate(w))
    else:
        ref = 0.5 * x + 0.3 * a @ x + 0.2 * a @ a @ x
    np.testing.assert_allclose(ax.numpy(), a @ x, atol=1e-5)
    np.testing.assert_allclose(sx.numpy(), ref, atol=1e-5)
    # The reference example passes custom weights as alpha=.
    if method == "custom":
        _, again = precompute_features(small.x, small.edge_index, 80, method="custom",
                                       k_hop=2, alpha=torch.tensor([0.5, 0.3, 0.2]))
        assert torch.equal(again, sx)


def test_diffusion_weights_sum_to_one_and_errors(small):
    assert sum(diffusion_coefficients("ppr", 3, 0.2)) == pytest.approx(1.0)
    assert sum(diffusion_coefficients("heat", 3, t=5.0)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        precompute_features(small.x, small.edge_index, 80, method="cheb")
    with pytest.raises(ValueError, match="needs coefs"):
        precompute_features(small.x, small.edge_index, 80, method="custom")
    with pytest.raises(ValueError, match="k_hop \\+ 1 = 3"):
        precompute_features(small.x, small.edge_index, 80, method="custom", coefs=[1.0])
    with pytest.raises(TypeError, match="unknown argument 'beta'"):
        precompute_features(small.x, small.edge_index, 80, beta=0.1)
    with pytest.raises(ValueError, match="81 rows"):
        precompute_features(torch.zeros(81, 3), small.edge_index, 80)


@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.25, 4.0)])
def test_positive_windows_follow_edges_and_negatives_share_their_anchor(small, p, q):
    model = _model(small, p=p, q=q, num_negative_samples=2)
    batch = torch.tensor([3, 9, 40])
    pos, neg = model.sample(batch)
    windows = 4 + 2 - 3
    assert pos.shape == (3 * 2 * windows, 3) and neg.shape == (2 * pos.size(0), 3)
    # Each step follows an edge or stays put (the walks' graph is A + I).
    edges = set(map(tuple, small.edge_index.t().tolist())) | {(i, i) for i in range(80)}
    assert all((a, b) in edges for a, b in zip(pos[:, :-1].reshape(-1).tolist(),
                                               pos[:, 1:].reshape(-1).tolist()))
    assert set(pos[::windows, 0].tolist()) == set(batch.tolist())
    # Negative window m * P + r belongs to positive window r: same anchor, uniform rest.
    assert torch.equal(neg[:, 0], pos[:, 0].repeat(2))
    rest = neg[:, 1:]
    assert int(rest.min()) >= 0 and int(rest.max()) < 80 and rest.unique().numel() > 20


def test_walks_honour_p():
    ring = torch.arange(40)
    edge_index = to_undirected(torch.stack([torch.cat([ring, ring]),
                                            torch.cat([(ring + 1) % 40, (ring + 2) % 40])]))
    g = Data(x=torch.randn(40, 3), edge_index=edge_index, num_nodes=40)
    rates = []
    for p in (4.0, 0.25):
        model = S3GC(edge_index, 40, 3, 4, walk_length=6, context_size=7, walks_per_node=40,
                     p=p, seed=0, walk_self_loops=False)
        w = model.pos_sample(torch.arange(40))
        rates.append((w[:, 2:] == w[:, :-2]).float().mean().item())
    # Degree 4: the return weight 1/p against 3 others gives 1/13 and 4/7.
    assert rates[0] == pytest.approx(1 / 13, abs=0.02)
    assert rates[1] == pytest.approx(4 / 7, abs=0.03)
    del g


def test_walks_stay_put_through_the_self_loops():
    # A ring where every node has degree 4: on A + I a uniform step stays with probability
    # 1/5; without the self-loops it never stays.
    ring = torch.arange(40)
    edge_index = to_undirected(torch.stack([torch.cat([ring, ring]),
                                            torch.cat([(ring + 1) % 40, (ring + 2) % 40])]))
    for loops, rate in ((True, 1 / 5), (False, 0.0)):
        model = S3GC(edge_index, 40, 3, 4, walk_length=6, context_size=7, walks_per_node=50,
                     seed=0, walk_self_loops=loops)
        w = model.pos_sample(torch.arange(40))
        assert (w[:, 1:] == w[:, :-1]).float().mean().item() == pytest.approx(rate, abs=0.02)
    with pytest.raises(ValueError, match="walk_self_loops"):
        S3GC(edge_index, 40, 3, 4, walk_length=2, context_size=2, walk_self_loops=1)


def test_loss_matches_a_hand_computation(small):
    model = _model(small, tau=0.4, num_negative_samples=2)
    pos_rw, neg_rw, mapping = model.collate(torch.tensor([0, 5, 17, 33]))
    out = model.loss(pos_rw, neg_rw, mapping)
    assert isinstance(out, LossOutput) and set(out.components) == {"align", "negative"}
    with torch.no_grad():
        z = model.embed(mapping)
        pos, neg = mapping[pos_rw].tolist(), mapping[neg_rw].tolist()
        gid = {int(g): i for i, g in enumerate(mapping)}
        terms = []
        for r, row in enumerate(pos):
            za = z[gid[row[0]]]
            num = sum(math.exp(float(za @ z[gid[v]]) / 0.4) for v in row[1:])
            negs = [n for m in range(2) for n in neg[m * len(pos) + r][1:]]
            den = num + sum(math.exp(float(za @ z[gid[n]]) / 0.4) for n in negs)
            terms.append(-num / den)
        expected = torch.tensor(sum(terms) / len(terms))
    torch.testing.assert_close(out.total.detach(), expected, rtol=1e-4, atol=1e-5)
    # The same batch in global ids (node_mapping=None) gives the same loss.
    torch.testing.assert_close(model.loss(mapping[pos_rw], mapping[neg_rw]).total, out.total)
    # The loss is the share of the positives: -1 < loss < 0; a window's own negatives only.
    assert -1.0 < float(out.total) < 0.0


def test_window_scores_and_gradients_equal_gathered_rows():
    # The sparse-pattern scores (one SDDMM over all windows) and their gradient equal the
    # plain gather-and-dot reference, repeats and self-pairs included.
    g = torch.Generator().manual_seed(3)
    z = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    pos = torch.randint(7, (9, 3), generator=g)
    neg = torch.cat([pos[:, :1], torch.randint(7, (9, 3), generator=g)], dim=1)  # c' = 4
    pos[0, 1] = pos[0, 0]
    weights = torch.randn(9, 2, generator=g, dtype=torch.float64), \
        torch.randn(9, 3, generator=g, dtype=torch.float64)
    s_pos, s_neg = s3gc_module._window_similarities(z, pos, neg)
    assert s_pos.shape == (9, 2) and s_neg.shape == (9, 3)
    (grad,) = torch.autograd.grad((s_pos * weights[0]).sum() + (s_neg * weights[1]).sum(), z)
    ref = [(z[rw[:, :1]] * z[rw[:, 1:]]).sum(-1) for rw in (pos, neg)]
    (ref_grad,) = torch.autograd.grad((ref[0] * weights[0]).sum() + (ref[1] * weights[1]).sum(),
                                      z)
    torch.testing.assert_close(s_pos, ref[0])
    torch.testing.assert_close(s_neg, ref[1])
    torch.testing.assert_close(grad, ref_grad)


@pytest.mark.parametrize("embedding_std", [1.0, 0.0])
def test_recomputed_blocks_give_the_same_loss_and_gradients(small, embedding_std):
    # A batch touching more than checkpoint_rows nodes is encoded in recomputed blocks
    # (memory of one block's activations); loss and gradients equal the one-block pass.
    model = _model(small, scale="medium", embedding_std=embedding_std)
    batch = model.collate(torch.arange(40))
    assert batch[2].numel() > 20
    grads = []
    for rows in (model.CHECKPOINT_ROWS, 7):
        model.checkpoint_rows = rows
        model.zero_grad()
        out = model.loss(*batch)
        out.total.backward()
        grads.append((out.total.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(grads[1][0], grads[0][0])
    assert len(grads[0][1]) == 8 + (embedding_std > 0)  # two 2-layer maps (+ the table)
    for blocked, whole in zip(grads[1][1], grads[0][1]):
        torch.testing.assert_close(blocked, whole, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # without gradients nothing is checkpointed
        torch.testing.assert_close(model._encode_unit(batch[2]), model.embed(batch[2]))


def test_bf16_maps_for_large_batches_only_on_fast_cpus(small, monkeypatch):
    # bf16=None: bfloat16 feature maps for training batches of at least bf16_min_rows
    # distinct nodes, where the CPU has native bfloat16 products; exact float32 otherwise
    # (every Cora-sized batch) and in embed().
    model = _model(small, scale="medium")
    batch = model.collate(torch.arange(40))
    rows = batch[2].numel()
    monkeypatch.setattr(s3gc_module, "bf16_matmul_is_fast", lambda device: True)
    assert not model.uses_bf16(rows)
    model.bf16_min_rows = rows
    assert model.uses_bf16(rows) and not model.uses_bf16(rows - 1)
    seen = []
    monkeypatch.setattr(model.f, "forward", lambda x, _f=model.f.forward: seen.append(
        torch.is_autocast_enabled("cpu")) or _f(x))
    results, autocast = {}, {}
    for label, bf16 in (("default", None), ("float32", False), ("bfloat16", True)):
        model.bf16 = bf16
        seen.clear()
        for rows_per_block in (model.CHECKPOINT_ROWS, 7):  # one block, recomputed blocks
            model.checkpoint_rows = rows_per_block
            model.zero_grad()
            out = model.loss(*batch)
            out.total.backward()
            assert out.total.dtype == torch.float32
            results[label, rows_per_block] = (out.total.detach(),
                                              [p.grad.clone() for p in model.parameters()])
        autocast[label] = set(seen)
    assert autocast == {"default": {True}, "float32": {False}, "bfloat16": {True}}
    for rows_per_block in (model.CHECKPOINT_ROWS, 7):
        ref, bf = results["float32", rows_per_block], results["bfloat16", rows_per_block]
        assert torch.equal(results["default", rows_per_block][0], bf[0])
        assert not torch.equal(ref[0], bf[0])  # rounded, but close
        torch.testing.assert_close(bf[0], ref[0], rtol=1e-3, atol=1e-4)
        for g_bf, g_ref in zip(bf[1], ref[1]):
            assert float((g_bf - g_ref).norm()) <= 0.05 * float(g_ref.norm()) + 1e-6
    seen.clear()
    model.bf16 = True
    with torch.no_grad():  # inference stays float32
        torch.testing.assert_close(model._encode_unit(batch[2]), model.embed(batch[2]))
    assert seen and not any(seen)
    monkeypatch.setattr(s3gc_module, "bf16_matmul_is_fast", lambda device: False)
    model.bf16 = None
    assert not model.uses_bf16(10 ** 9)
    with pytest.raises(ValueError, match="bf16"):
        _model(small, bf16="yes")


def test_scale_chooses_the_encoder_and_where_the_table_lives(small, monkeypatch):
    assert isinstance(_model(small).f, torch.nn.Linear)
    medium = _model(small, scale="medium")
    assert medium.scale == "medium" and len(medium.f.lins) == 2
    assert not medium.keep_embeddings_on_cpu
    large = _model(small, scale="large")
    assert large.keep_embeddings_on_cpu
    # embedding_std=0: no [N, H] table; the embedding is the feature part only.
    bare = _model(small, embedding_std=0)
    assert bare.node_embedding is None
    assert all(p.numel() < 80 * 8 or p.size(0) != 80 for p in bare.parameters())
    # The default: a table initialised N(0, 1) entry-wise (the authors' release).
    torch.manual_seed(0)
    table = S3GC(small.edge_index, 80, 5, 64, 3, 3).node_embedding.weight
    assert table.shape == (80, 64)
    assert abs(float(table.mean())) < 0.05 and float(table.std()) == pytest.approx(1.0, abs=0.05)
    with_table = _model(small, embedding_std=0.5)
    assert float(with_table.node_embedding.weight.std()) == pytest.approx(0.5, abs=0.1)
    with_table.load_state_dict(bare.state_dict(), strict=False)
    with torch.no_grad():
        with_table.node_embedding.weight.zero_()
    torch.testing.assert_close(with_table.embed(), bare.embed())
    with torch.no_grad():
        with_table.node_embedding.weight[3] = 1.0
    changed = (with_table.embed() - bare.embed()).abs().sum(1) > 1e-6
    assert changed.tolist() == [i == 3 for i in range(80)]
    monkeypatch.setattr(s3gc_module, "SCALE_LIMITS", (50, 70))
    assert s3gc_module.resolve_scale("auto", 60) == "medium"
    assert s3gc_module.resolve_scale("auto", 80) == "large"
    assert s3gc_module.resolve_scale("auto", 10) == "small"


def test_errors(small):
    args = (small.edge_index, 80, 5, 8)
    with pytest.raises(ValueError, match="context_size"):
        S3GC(*args, walk_length=2, context_size=4)
    with pytest.raises(ValueError, match="scale must be one of"):
        S3GC(*args, 3, 3, scale="huge")
    with pytest.raises(ValueError, match="tau"):
        S3GC(*args, 3, 3, tau=0.0)
    model = S3GC(*args, 3, 3)
    with pytest.raises(RuntimeError, match="set_precomputed_features"):
        model.embed()
    with pytest.raises(ValueError, match="in_channels=5"):
        model.set_precomputed_features(torch.zeros(80, 4), torch.zeros(80, 4))
    with pytest.raises(ValueError, match="pos_rw must be"):
        model.loss(torch.zeros(3), torch.zeros(3, 3, dtype=torch.long))
    pos = torch.tensor([[0, 1, 2], [3, 4, 5]])
    with pytest.raises(ValueError, match="k negative windows per positive window"):
        model.loss(pos, torch.tensor([[3, 7, 8], [0, 9, 10]]))  # anchors swapped
    with pytest.raises(ValueError, match="k negative windows per positive window"):
        model.loss(pos, torch.tensor([[0, 7, 8]]))  # fewer rows than positive windows
    with pytest.raises(ValueError, match="batch node ids"):
        model.sample([80])


def test_separates_an_easy_graph_and_is_reproducible(easy):
    def run():
        torch.manual_seed(0)
        model = S3GC(easy.edge_index, easy.num_nodes, easy.num_features, 32, walk_length=3,
                     context_size=3, walks_per_node=5, seed=0)
        model.set_precomputed_features(*precompute_features(easy.x, easy.edge_index,
                                                            easy.num_nodes))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        loader = model.loader(batch_size=100, shuffle=True)
        losses = [model.train_epoch(loader, optimizer, epoch, verbose=False)
                  for epoch in range(1, 11)]
        return model.embed(), losses

    z, losses = run()
    assert losses[-1] < losses[0]
    pred = KMeansClusterHead(3, n_init=3, random_state=0).fit_predict(z)
    assert label_metrics(easy.y, pred, metrics=("NMI",))["NMI"] > 0.8
    z2, losses2 = run()
    assert torch.equal(z, z2) and losses == losses2
