from types import SimpleNamespace

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
import matplotlib.container  # noqa: E402
import matplotlib.image  # noqa: E402
import matplotlib.pyplot  # noqa: E402

from pyagc.data import make_csbm  # noqa: E402
from pyagc.metrics import label_metrics  # noqa: E402
from pyagc.runner.plots import (bench_figure, contingency_figure, embedding_figure,  # noqa: E402
                                loss_figure, matched_order, save_figure)


@pytest.fixture(scope="module")
def graph():
    return make_csbm(120, 3, num_features=8, feature_signal=2.0, seed=1)


def _points(ax):
    return np.concatenate([c.get_offsets() for c in ax.collections])


def _legend(ax):
    legend = ax.get_legend()
    return [text.get_text() for text in legend.get_texts()], legend


def test_embedding_map_has_clusters_and_classes_at_the_same_coordinates(graph):
    clusters = (graph.y + 1) % 3  # a relabelled perfect clustering
    fig = embedding_figure(graph.x, clusters, graph.y, title="GAE on toy")
    left, right = fig.axes
    assert left.get_title().startswith("Predicted clusters (k=3)")
    assert right.get_title() == "True classes (3)"
    title = fig._suptitle.get_text()
    assert title.startswith("GAE on toy: t-SNE") and "120 nodes" in title
    assert np.allclose(_points(left), _points(right)) and len(_points(left)) == 120
    assert left.get_xlim() == right.get_xlim() and left.get_ylim() == right.get_ylim()
    names, legend = _legend(left)
    sizes = np.bincount(clusters.numpy())
    assert names == [f"cluster {k} ({sizes[k]})" for k in range(3)]
    class_names, class_legend = _legend(right)
    assert len(class_names) == 3
    # Each cluster is drawn in the colour of the class matched to it (here class c <-> c+1).
    colour = {n: h.get_color() for n, h in zip(names, legend.legend_handles)}
    class_colour = {n.split(" (")[0]: h.get_color()
                    for n, h in zip(class_names, class_legend.legend_handles)}
    for c in range(3):
        assert class_colour[f"class {c}"] == colour[f"cluster {(c + 1) % 3} ({sizes[(c + 1) % 3]})"]
    assert list(class_colour) == ["class 0", "class 1", "class 2"]
    # A fourth cluster that no class matches gets a colour no class has.
    four = clusters.clone()
    four[:10] = 3
    fig4 = embedding_figure(graph.x, four, graph.y, projection="pca")
    legend4 = fig4.axes[0].get_legend()
    colours4 = {t.get_text().split(" (")[0]: h.get_color()
                for t, h in zip(legend4.get_texts(), legend4.legend_handles)}
    class4 = {h.get_color() for h in fig4.axes[1].get_legend().legend_handles}
    assert len(colours4) == 4 and colours4["cluster 3"] not in class4
    matplotlib.pyplot.close("all")


def test_embedding_map_samples_large_graphs_and_names_pca(graph):
    z = torch.randn(500, 6, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(500) % 4
    fig = embedding_figure(z, labels, projection="pca", max_points=100, seed=3)
    assert len(fig.axes) == 1 and len(_points(fig.axes[0])) == 100  # no labels: one panel
    assert "PCA of the embedding, a random sample of 100 of 500 nodes (seed 3)" \
        in fig._suptitle.get_text()
    again = embedding_figure(z, labels, projection="pca", max_points=100, seed=3)
    assert np.allclose(_points(fig.axes[0]), _points(again.axes[0]))  # seeded sample
    with pytest.raises(ValueError, match="projection"):
        embedding_figure(z, labels, projection="umap")
    with pytest.raises(ValueError, match="499"):
        embedding_figure(z[:499], labels)
    matplotlib.pyplot.close("all")


def test_embedding_map_image_holds_both_panels(graph, tmp_path):
    path = save_figure(embedding_figure(graph.x, graph.y, graph.y, projection="pca"),
                       str(tmp_path / "map.png"))
    image = matplotlib.image.imread(path)
    single = save_figure(embedding_figure(graph.x, graph.y, projection="pca"),
                         str(tmp_path / "one.png"))
    assert image.shape[1] > 1.7 * matplotlib.image.imread(single).shape[1]


def test_contingency_diagonal_is_the_acc_matching():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    pred = (y + 2) % 4
    noisy = rng.random(y.size) < 0.2
    pred[noisy] = rng.integers(0, 4, int(noisy.sum()))
    y_lab = y.copy()
    y_lab[:5] = -1  # unlabelled nodes are left out, as in the metrics
    fig = contingency_figure(y_lab, pred)
    ax = fig.axes[0]
    table = ax.images[0].get_array()
    assert table.shape == (4, 4) and table.sum() == 115
    acc = label_metrics(y_lab, pred, ("ACC",))["ACC"]
    assert np.trace(table) / table.sum() == pytest.approx(acc)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "3", "0", "1"]
    assert f"ACC {100 * acc:.1f}%" in ax.get_title()
    assert sorted(int(t.get_text()) for t in ax.texts) == sorted(table.ravel().tolist())
    plain = contingency_figure(y_lab, pred, max_annotated=3)
    assert len(plain.axes[0].texts) == 0
    matplotlib.pyplot.close("all")


def test_contingency_with_more_clusters_than_classes_puts_the_extra_last():
    y = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([2, 2, 0, 1, 1, 1])
    clusters, classes, n = matched_order(y, pred)
    assert n == 2 and clusters == [1, 2, 0] and classes == [1, 0]
    fig = contingency_figure(y, pred)
    assert fig.axes[0].images[0].get_array().tolist() == [[3, 0], [0, 2], [0, 1]]
    matplotlib.pyplot.close(fig)


def _history():
    rows = [{"stage": "pretrain", "epoch": e, "loss": 100.0 / e ** 2,
             "components": {"recon": 100.0 / e ** 2}} for e in range(1, 11)]
    rows += [{"stage": "finetune", "epoch": e, "loss": 2.0 - 0.01 * e,
              "components": {"recon": 1.0, "kl": -0.1 * e}} for e in range(1, 6)]
    return rows


def test_loss_figure_has_a_panel_per_component_and_a_line_per_stage():
    fig = loss_figure(_history())
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["total loss", "recon", "kl"]
    total, recon, kl = axes
    assert [line.get_label() for line in total.get_lines()
            if not line.get_label().startswith("_")] == ["pretrain", "finetune"]
    assert [t.get_text() for t in total.get_legend().get_texts()] == ["pretrain", "finetune"]
    finetune = [line for line in recon.get_lines() if line.get_label() == "finetune"][0]
    assert list(finetune.get_xdata()) == [11, 12, 13, 14, 15]  # epochs over both stages
    assert total.get_yscale() == "log"  # 100 .. 0.95 spans more than 30x
    assert kl.get_yscale() == "linear"  # negative values
    single = loss_figure([{"stage": "train", "epoch": e, "loss": 1.0 + 1.0 / e}
                          for e in range(1, 4)])
    assert len([a for a in single.axes if a.get_visible()]) == 1
    assert single.axes[0].get_legend() is None and single.axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="not trained"):
        loss_figure([])
    matplotlib.pyplot.close("all")


def _experiment(method, dataset, nmi, acc, total, std=0.01):
    summary = {"NMI": {"mean": nmi, "std": std}, "ACC": {"mean": acc, "std": std},
               "time_total": {"mean": total, "std": total / 10}}
    return SimpleNamespace(method=method, dataset=dataset, summary=summary)


def test_bench_figure_compares_nmi_acc_and_time():
    experiments = [_experiment("KMeans", "Cora", 0.3, 0.5, 0.2),
                   _experiment("SSGC", "Cora", 0.55, 0.7, 2.0, std=0.02)]
    fig = bench_figure(experiments)
    nmi, acc, time = fig.axes
    assert [ax.get_xlabel() for ax in fig.axes] == ["NMI (%)", "ACC (%)",
                                                    "total time per run (s, log)"]
    assert time.get_xscale() == "log" and nmi.get_xscale() == "linear"
    assert [p.get_width() for p in nmi.patches] == pytest.approx([30.0, 55.0])
    points = [c for c in time.containers if isinstance(c, matplotlib.container.ErrorbarContainer)]
    assert list(points[0].lines[0].get_xdata()) == pytest.approx([0.2, 2.0])
    low, high = time.get_xlim()
    assert low < 0.18 and high > 2.2  # every point and its std are on the axis
    assert [t.get_text() for t in nmi.get_yticklabels()] == ["KMeans", "SSGC"]
    bars = [c for c in nmi.containers if isinstance(c, matplotlib.container.BarContainer)]
    errors = bars[0].errorbar.lines[2][0].get_segments()
    assert [abs(s[1][0] - s[0][0]) / 2 for s in errors] == pytest.approx([1.0, 2.0])
    two = bench_figure(experiments + [_experiment("SSGC", "CiteSeer", 0.4, 0.6, 3.0)])
    assert [t.get_text() for t in two.axes[-1].get_legend().get_texts()] == ["Cora", "CiteSeer"]
    matplotlib.pyplot.close("all")
