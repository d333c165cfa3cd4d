import statistics

import pytest
import torch

from _joint_helpers import (Encoder, NodeWise, all_nodes_batch, batch_estimates,
                            full_batch_nmi, mini_batch_nmi)
from pyagc.models import LossOutput, Neuromap
from pyagc.utils import set_seed


def test_loss_components_and_forward(easy):
    set_seed(0)
    model = Neuromap(Encoder(16, 16), 16, 3, lam=2.0)
    out = model.loss(easy.x, easy.edge_index)
    assert isinstance(out, LossOutput) and set(out.components) == {"codelength", "collapse"}
    expected = out.components["codelength"] + 2.0 * out.components["collapse"]
    assert float(out.total) == pytest.approx(expected, rel=1e-5)
    labels = model.infer_full(easy)
    assert labels.shape == (300,) and labels.dtype == torch.long and int(labels.max()) < 3


def test_batch_holding_all_nodes_gives_the_full_loss(easy):
    set_seed(0)
    model = Neuromap(Encoder(16, 16), 16, 3).eval()
    full = model.loss(easy.x, easy.edge_index)
    model.prepare(easy)
    part = model.loss_batch(all_nodes_batch(easy))
    for key in ("codelength", "collapse"):
        assert part.components[key] == pytest.approx(full.components[key], rel=1e-4)


def test_batch_average_approaches_the_full_loss(easy):
    set_seed(0)
    model = Neuromap(NodeWise(16, 8), 8, 3).eval()
    full = model.loss(easy.x, easy.edge_index).components["codelength"]
    model.prepare(easy)
    small = statistics.mean(batch_estimates(model, easy, "codelength", batch_size=60, repeats=20))
    large = statistics.mean(batch_estimates(model, easy, "codelength", batch_size=150, repeats=20))
    assert abs(large - full) < 0.03 * abs(full)
    assert abs(large - full) <= abs(small - full) + 0.01


def test_prepare_computes_the_whole_graph_flow(easy):
    model = Neuromap(Encoder(16, 8), 8, 3)
    model.prepare(easy)
    deg = torch.bincount(easy.edge_index[1], minlength=300).float()
    assert torch.allclose(model.global_visit_rate, deg / deg.sum(), atol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="lam"):
        Neuromap(Encoder(4, 4), 4, 3, lam=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        Neuromap(Encoder(4, 4), 4, 3, alpha=2.0)


def test_separates_easy_graph_full_batch(easy):
    assert full_batch_nmi(lambda: Neuromap(Encoder(16, 32), 32, 3), easy) > 0.8


def test_separates_easy_graph_mini_batch(easy):
    assert mini_batch_nmi(lambda: Neuromap(Encoder(16, 32), 32, 3), easy) > 0.8
