import statistics

import pytest
import torch

from _joint_helpers import (Encoder, NodeWise, all_nodes_batch, batch_estimates,
                            full_batch_nmi, mini_batch_nmi)
from pyagc.models import LossOutput, MinCut
from pyagc.utils import set_seed


def test_loss_components_and_forward(easy):
    set_seed(0)
    model = MinCut(Encoder(16, 16), 16, 3, lam=0.5)
    out = model.loss(easy.x, easy.edge_index)
    assert isinstance(out, LossOutput) and set(out.components) == {"cut", "ortho"}
    assert -1.0 <= out.components["cut"] <= 0.0
    expected = out.components["cut"] + 0.5 * out.components["ortho"]
    assert float(out.total) == pytest.approx(expected, rel=1e-5)
    labels = model.infer_full(easy)
    assert labels.shape == (300,) and labels.dtype == torch.long and int(labels.max()) < 3


def test_batch_holding_all_nodes_gives_the_full_loss(easy):
    set_seed(0)
    model = MinCut(Encoder(16, 16), 16, 3).eval()
    full = model.loss(easy.x, easy.edge_index)
    model.prepare(easy)
    part = model.loss_batch(all_nodes_batch(easy))
    for key in ("cut", "ortho"):
        assert part.components[key] == pytest.approx(full.components[key], rel=1e-4)


def test_batch_average_approaches_the_full_loss(easy):
    set_seed(0)
    model = MinCut(NodeWise(16, 8), 8, 3).eval()
    full = model.loss(easy.x, easy.edge_index)
    model.prepare(easy)
    for key in ("cut", "ortho"):
        small = statistics.mean(batch_estimates(model, easy, key, batch_size=60, repeats=20))
        large = statistics.mean(batch_estimates(model, easy, key, batch_size=150, repeats=20))
        # Plug-in ratios: a bias that shrinks as batches grow, small against the value.
        assert abs(large - full.components[key]) < 0.05 * abs(full.components[key]) + 0.01
        assert abs(large - full.components[key]) <= abs(small - full.components[key]) + 0.01


def test_batch_loss_needs_graph_statistics(easy):
    model = MinCut(Encoder(16, 16), 16, 3)
    with pytest.raises(ValueError, match="set_graph_statistics"):
        model.loss_batch(all_nodes_batch(easy))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="lam"):
        MinCut(Encoder(4, 4), 4, 3, lam=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        MinCut(Encoder(4, 4), 4, 3, temperature=0)
    with pytest.raises(TypeError, match="encoder"):
        MinCut("gcn", 4, 3)


def test_separates_easy_graph_full_batch(easy):
    assert full_batch_nmi(lambda: MinCut(Encoder(16, 32), 32, 3), easy) > 0.8


def test_separates_easy_graph_mini_batch(easy):
    assert mini_batch_nmi(lambda: MinCut(Encoder(16, 32), 32, 3), easy) > 0.8
