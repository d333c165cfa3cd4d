import statistics

import pytest
import torch

from _joint_helpers import (Encoder, NodeWise, all_nodes_batch, batch_estimates,
                            full_batch_nmi, mini_batch_nmi)
from pyagc.models import GCSBM, LossOutput
from pyagc.utils import set_seed

VARIANTS = ["bernoulli", "poisson", "bernoulli-dc", "poisson-dc", "match"]


def test_loss_components_and_forward(easy):
    set_seed(0)
    model = GCSBM(Encoder(16, 16), 16, 3, alpha=0.5, collapse=0.0, seed=0)
    out = model.loss(easy.x, easy.edge_index)
    assert isinstance(out, LossOutput)
    assert set(out.components) == {"nll_edges", "nll_non_edges", "reg"}
    c = out.components
    assert float(out.total) == pytest.approx(c["nll_edges"] + c["nll_non_edges"] + 0.5 * c["reg"],
                                             rel=1e-5)
    labels = model.infer_full(easy)
    assert labels.shape == (300,) and labels.dtype == torch.long and int(labels.max()) < 3


def test_collapse_term_is_dmon_regulariser_of_the_assignments(easy):
    set_seed(0)
    model = GCSBM(Encoder(16, 16), 16, 3, alpha=0.5, collapse=2.0, seed=0).eval()
    out = model.loss(easy.x, easy.edge_index)
    c = out.components
    s = model.cluster_head.assign(model.embed(easy.x, easy.edge_index))
    by_hand = 3 ** 0.5 / 300 * float(torch.linalg.vector_norm(s.sum(dim=0))) - 1.0
    assert c["collapse"] == pytest.approx(by_hand, rel=1e-5, abs=1e-6)
    assert float(out.total) == pytest.approx(
        c["nll_edges"] + c["nll_non_edges"] + 0.5 * c["reg"] + 2.0 * by_hand, rel=1e-5)


def test_same_seed_same_negatives(easy):
    losses = []
    for _ in range(2):
        set_seed(0)
        model = GCSBM(Encoder(16, 16), 16, 3, seed=5).eval()
        losses.append(float(model.loss(easy.x, easy.edge_index).total))
    assert losses[0] == losses[1]


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_holding_all_nodes_gives_the_full_loss(easy, variant):
    set_seed(0)
    model = GCSBM(Encoder(16, 16), 16, 3, variant=variant, collapse=1.0, seed=0).eval()
    full = model.loss(easy.x, easy.edge_index).components
    model.prepare(easy)
    part = model.loss_batch(all_nodes_batch(easy)).components
    for key in ("nll_edges", "reg", "collapse"):
        assert part[key] == pytest.approx(full[key], rel=1e-4)
    # Non-edges are drawn afresh (uniformly, edges excluded): equal in expectation.
    draws = [model.loss(easy.x, easy.edge_index).components["nll_non_edges"] for _ in range(20)]
    assert part["nll_non_edges"] == pytest.approx(statistics.mean(draws), rel=0.1)


@pytest.mark.parametrize("variant", ["bernoulli", "poisson-dc", "match"])
def test_batch_average_approaches_the_full_loss(easy, variant):
    set_seed(0)
    model = GCSBM(NodeWise(16, 8), 8, 3, variant=variant, seed=0).eval()
    full = statistics.mean(float(model.loss(easy.x, easy.edge_index).total) for _ in range(20))
    model.prepare(easy)
    small = statistics.mean(batch_estimates(model, easy, None, batch_size=60, repeats=20))
    large = statistics.mean(batch_estimates(model, easy, None, batch_size=150, repeats=20))
    assert abs(large - full) < 0.05 * abs(full)
    assert abs(large - full) <= abs(small - full) + 0.02


def test_defaults_are_match_with_the_measured_collapse_weight_per_variant():
    model = GCSBM(Encoder(4, 4), 4, 3)
    assert model.variant == "match" and model.alpha == 1.0 and model.eta == 3.0
    assert model.collapse == 10.0
    for variant in ("bernoulli", "poisson", "bernoulli-dc", "poisson-dc"):
        assert GCSBM(Encoder(4, 4), 4, 3, variant=variant).collapse == 1.0
    assert GCSBM(Encoder(4, 4), 4, 3, collapse=0.0).collapse == 0.0
    assert GCSBM(Encoder(4, 4), 4, 3, variant="bernoulli", collapse=2.5).collapse == 2.5


@pytest.mark.parametrize("variant", ["bernoulli-dc", "poisson"])
def test_warmup_loss_is_the_match_models_loss(easy, variant):
    set_seed(0)
    model = GCSBM(Encoder(16, 16), 16, 3, variant=variant, seed=3).eval()
    match = GCSBM(Encoder(16, 16), 16, 3, variant="match", seed=3).eval()
    match.load_state_dict(model.state_dict())
    warm = model.loss(easy.x, easy.edge_index, warmup=True)
    ref = match.loss(easy.x, easy.edge_index)
    assert float(warm.total) == pytest.approx(float(ref.total), rel=1e-6)
    assert float(model.loss(easy.x, easy.edge_index).total) != pytest.approx(float(ref.total))
    model.prepare(easy)
    part = model.loss_batch(all_nodes_batch(easy), warmup=True).components
    assert part["nll_edges"] == pytest.approx(warm.components["nll_edges"], rel=1e-4)
    assert part["collapse"] == pytest.approx(warm.components["collapse"], rel=1e-4)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="variant"):
        GCSBM(Encoder(4, 4), 4, 3, variant="normal")
    with pytest.raises(ValueError, match="alpha"):
        GCSBM(Encoder(4, 4), 4, 3, alpha=-1.0)
    with pytest.raises(ValueError, match="eta"):
        GCSBM(Encoder(4, 4), 4, 3, eta=0)
    with pytest.raises(ValueError, match="collapse"):
        GCSBM(Encoder(4, 4), 4, 3, collapse=-1.0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_separates_easy_graph_full_batch(easy, variant):
    assert full_batch_nmi(lambda: GCSBM(Encoder(16, 32), 32, 3, variant=variant, seed=0),
                          easy) > 0.8


@pytest.mark.parametrize("variant", ["bernoulli", "match"])
def test_separates_easy_graph_mini_batch(easy, variant):
    assert mini_batch_nmi(lambda: GCSBM(Encoder(16, 32), 32, 3, variant=variant, seed=0),
                          easy) > 0.8
