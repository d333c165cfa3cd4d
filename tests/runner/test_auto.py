"""pyagc.auto / `pyagc auto`: label-free choice of method and k."""
import csv
import os
import subprocess
import sys

import pytest
import torch

import pyagc
from pyagc.data import make_csbm
from pyagc.metrics import label_metrics
from pyagc.runner.auto import Candidate, _warm_centres, add_agreement, choose, sweep_k


@pytest.fixture(scope="module")
def graph():
    return make_csbm(400, 4, avg_degree=10, homophily=0.8, feature_signal=1.0, seed=0)


@pytest.fixture(scope="module")
def result(graph):
    torch.set_num_threads(1)
    return pyagc.auto(graph, "2:7", ["SSGC", "SGC"], seed=0)


def test_auto_finds_the_true_k_and_a_good_partition(graph, result):
    assert result.k == 4
    assert result.method in ("SSGC", "SGC")
    assert result.labels.shape == (400,)
    assert label_metrics(graph.y, result.labels, ("NMI",))["NMI"] > 0.8
    rows = result.rows()
    assert len(rows) == 2 * 6 and {r["k"] for r in rows} == set(range(2, 8))
    for row in rows:
        assert -0.5 <= row["Mod"] <= 1 and 0 <= row["Cond"] <= 1 and -1 <= row["Sil"] <= 1
        assert -1 <= row["Stab"] <= 1 and -1 <= row["Agree"] <= 1
    assert "k = 4" in result.reason


def test_auto_never_sees_labels_and_is_deterministic(graph, result):
    unlabelled = (graph.x, graph.edge_index)
    again = pyagc.auto(unlabelled, "2:7", ["SSGC", "SGC"], seed=0)
    assert (again.method, again.k) == (result.method, result.k)
    assert torch.equal(again.labels, result.labels)
    assert [r["Mod"] for r in again.rows()] == [r["Mod"] for r in result.rows()]


def test_budget_skips_later_methods_but_runs_the_first(graph):
    res = pyagc.auto(graph, "2:4", ["SSGC", "SGC"], budget=0)
    assert {c.method for c in res.candidates} == {"SSGC"}
    assert "budget" in res.skipped["SGC"]


def test_embedding_that_depends_on_k_is_recomputed_per_k(graph):
    res = pyagc.auto(graph, [3, 4, 5], ["S2CAG"], n_seeds=2)
    assert [c.k for c in res.candidates] == [3, 4, 5]
    # One method: agreement falls back to the stability across KMeans seeds.
    assert all(c.scores["Agree"] == c.scores["Stab"] for c in res.candidates)


@pytest.mark.parametrize("k_range, match", [("5:2", "k range"), ("two:five", "LOW:HIGH"),
                                            ("1:4", "k range"), ("2:900", "exceeds")])
def test_bad_k_range_is_one_clear_error(graph, k_range, match):
    with pytest.raises(ValueError, match=match):
        pyagc.auto(graph, k_range, ["SSGC"])


def test_joint_and_unknown_methods_are_refused(graph):
    with pytest.raises(ValueError, match="joint method"):
        pyagc.auto(graph, "2:4", ["DMoN"])
    with pytest.raises(ValueError):
        pyagc.auto(graph, "2:4", ["NoSuchMethod"])


def _cand(method, k, mod, labels):
    return Candidate(method, k, {"Mod": mod, "Cond": 0.0, "Sil": 0.0, "Stab": 1.0},
                     torch.as_tensor(labels), 0.0, 0.0)


def test_rule_prefers_the_k_where_methods_agree_and_the_median_partition():
    a = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    b = [0, 0, 0, 1, 1, 1, 2, 2, 1]   # one node off a
    c = [0, 0, 0, 1, 1, 1, 2, 1, 2]   # one node off a, two off b
    two_a, two_b = [0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 1, 0, 1, 0, 1, 0, 1, 0]
    cands = [_cand("A", 3, 0.5, a), _cand("B", 3, 0.5, b), _cand("C", 3, 0.5, c),
             _cand("A", 2, 0.6, two_a), _cand("B", 2, 0.6, two_b), _cand("C", 2, 0.6, two_a)]
    add_agreement(cands)
    choice, reason = choose(cands)
    # k=2 has the higher modularity, but the methods disagree there.
    assert (choice.method, choice.k) == ("A", 3)
    assert "k = 3" in reason


def test_method_is_chosen_by_its_agreement_around_the_chosen_k():
    agree = {2: (0.3, 0.7, 0.5), 3: (0.80, 0.78, 0.70), 4: (0.3, 0.7, 0.5)}
    cands = []
    for k, values in agree.items():
        for method, value in zip("XYZ", values):
            cand = _cand(method, k, 0.5, [0, 1] * 3)
            cand.scores["Agree"] = value
            cands.append(cand)
    choice, reason = choose(cands)
    # X agrees most at k = 3 alone, by a margin within KMeans noise; Y agrees far more at
    # k = 2 and k = 4, so Y's partitions are the steadier median of the ensemble.
    assert (choice.method, choice.k) == ("Y", 3)
    assert "k = 2, 3, 4: 0.727" in reason


def test_two_methods_come_with_a_caution():
    cands = [_cand(m, k, 0.5, [0, 1] * 3) for m in "XY" for k in (2, 3)]
    for cand in cands:
        cand.scores["Agree"] = 0.5
    assert "Caution: with two methods" in choose(cands)[1]
    third = [_cand("Z", k, 0.5, [0, 1] * 3) for k in (2, 3)]
    for cand in third:
        cand.scores["Agree"] = 0.5
    assert "Caution" not in choose(cands + third)[1]


def test_warm_start_keeps_previous_centres():
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    prev = z[:2].clone()
    out = _warm_centres(z, prev, 4, seed=0)
    assert out.shape == (4, 3) and torch.equal(out[:2], prev)


def test_sweep_on_separated_embedding_is_stable_at_true_k():
    gen = torch.Generator().manual_seed(0)
    centres = torch.eye(3) * 10
    y = torch.arange(90) % 3
    z = centres[y] + 0.1 * torch.randn(90, 3, generator=gen)
    edge_index = torch.stack([torch.arange(90), (torch.arange(90) + 3) % 90])
    edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
    cands = sweep_k(z, edge_index, [3], "X", normalize=False)
    assert cands[0].scores["Stab"] == pytest.approx(1.0)
    assert label_metrics(y, cands[0].labels, ("NMI",))["NMI"] == pytest.approx(1.0)


def _pyagc(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("PYAGC_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pyagc", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_writes_table_choice_and_labels(tmp_path):
    out = _pyagc("auto", "--methods", "SSGC", "SGC", "--k-range", "2:6", "--out", "res",
                 "--save-labels", "-q", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "# pyagc auto:" in out.stdout and "NMI" in out.stdout  # synthetic graph has labels
    with open(tmp_path / "res" / "auto.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and sum(int(r["chosen"]) for r in rows) == 1
    with open(tmp_path / "res" / "labels.csv") as f:
        assert len(f.read().strip().splitlines()) == 2000 + 1  # header + one line per node
    assert "**Choice:**" in (tmp_path / "res" / "auto.md").read_text()


def test_cli_bad_set_is_one_error_line(tmp_path):
    out = _pyagc("auto", "--methods", "SSGC", "--set", "epochs=5", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("pyagc: error:") and "MODEL.KEY=VALUE" in out.stderr


def test_graph_without_features_gets_a_clear_error(graph):
    with pytest.raises(ValueError, match="Node2Vec"):
        pyagc.auto((None, graph.edge_index), "2:3", ["SSGC", "SGC"])


def test_budget_stops_a_deep_method_during_training(graph, monkeypatch):
    import time
    from pyagc.runner import auto as auto_module
    callback = auto_module._budget_callback(time.perf_counter() - 5, budget=1.0)
    with pytest.raises(auto_module._BudgetSpent, match="epoch 3"):
        callback("train", 3, 0.5)
    auto_module._budget_callback(time.perf_counter(), budget=60.0)("train", 1, 0.5)  # no raise
    # Wired into training: DGI starts (budget left) and is stopped after its first epoch.
    original = auto_module._budget_callback
    monkeypatch.setattr(auto_module, "_budget_callback",
                        lambda start, budget: original(start - 1e6, budget))
    res = pyagc.auto(graph, "2:3", ["SSGC", "DGI"], budget=3600,
                     overrides={"DGI": ["train.epochs=50"]})
    assert {c.method for c in res.candidates} == {"SSGC"}
    assert "stopped in training" in res.skipped["DGI"] and "epoch 1" in res.skipped["DGI"]


def test_figure_shows_every_score_and_the_rule(result):
    pytest.importorskip("matplotlib")
    from pyagc.runner.auto_outputs import auto_figure
    fig = auto_figure(result)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 6
    for score in ("Mod", "Cond", "Sil", "Stab", "Agree"):
        assert any(t.startswith(score) for t in titles)
    assert "rule" in titles[-1]
    # one line per method plus the circled choice in each score panel
    assert len(fig.axes[0].get_lines()) == 3
    rule_line = fig.axes[-1].get_lines()[0]
    assert list(rule_line.get_xdata()) == list(range(2, 8))
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_wide_embedding_is_swept_on_its_principal_components():
    from pyagc.runner.auto import principal_components
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 4
    centres = torch.randn(4, 300, generator=gen) * 3
    z = centres[y] + torch.randn(120, 300, generator=gen)
    p = principal_components(z, 8)
    assert p.shape == (120, 8)
    # the projection keeps the variance of the leading directions (centred input)
    total = (z - z.mean(0)).pow(2).sum()
    assert float(p.pow(2).sum() / total) > 0.5
    edge_index = torch.stack([torch.arange(120), (torch.arange(120) + 4) % 120])
    cands = sweep_k(z, edge_index, [4], "X", max_dims=8)
    assert label_metrics(y, cands[0].labels, ("NMI",))["NMI"] == pytest.approx(1.0)
