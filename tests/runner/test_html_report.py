import base64
import csv
import json
import os
from html.parser import HTMLParser

import pytest

from pyagc.data import make_csbm
from pyagc.runner import run_experiment
from pyagc.runner.html_report import run_report
from pyagc.runner.outputs import write_bench_report


class _Page(HTMLParser):
    """Collects the text, the images (data-file -> decoded bytes), links and tags of a page."""

    def __init__(self):
        super().__init__()
        self.text, self.images, self.links, self.tags, self.stack = [], {}, [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag not in ("img", "meta", "br"):
            self.stack.append(tag)
        if tag == "img":
            prefix = "data:image/png;base64,"
            assert attrs["src"].startswith(prefix), attrs["src"][:40]
            self.images[attrs["data-file"]] = base64.b64decode(attrs["src"][len(prefix):])
        if tag == "a":
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data):
        self.text.append(data)


def _parse(path):
    page = _Page()
    with open(path, encoding="utf-8") as handle:
        page.feed(handle.read())
    page.close()
    assert page.stack == [] and "script" not in page.tags
    assert not any(link.startswith(("http:", "https:", "//")) for link in page.links)
    page.body = " ".join(page.text)
    return page


@pytest.fixture(scope="module")
def graph():
    return make_csbm(150, 3, num_features=8, feature_signal=2.0, seed=1)


def _check_metrics(page, folder):
    results = json.loads((folder / "results.json").read_text())
    for key in results["summary"]:
        if key.startswith("time_"):
            name = {"time_train": "Train", "time_inference": "Inference",
                    "time_clustering": "Clustering", "time_total": "Total"}[key]
        else:
            name = "Peak RSS" if key == "memory_mb" else key
        assert name in page.body, key
    for run in results["runs"]:
        for key, value in run["metrics"].items():
            assert f"{100 * value:.2f}" in page.body, (key, value)
        assert f"{run['times']['total']:.3f}" in page.body


def test_run_report_embeds_every_figure_and_metric_and_the_loss_components(graph, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "res"
    run_experiment("DAEGC", data=graph, runs=2, out_dir=str(out), plot=True, projection="pca",
                   verbose=False,
                   overrides=["train.stages.pretrain.epochs=3",
                              "train.stages.finetune.epochs=2",
                              "model.encoder.hidden_channels=8"])
    # The per-component losses of each stage are recorded, in the run JSON and the CSV.
    history = json.loads((out / "runs" / "run0.json").read_text())["history"]
    assert [sorted(row["components"]) for row in history] == [["recon"]] * 3 + [["kl", "recon"]] * 2
    rows = list(csv.DictReader((out / "loss_curve.csv").open()))
    assert len(rows) == 10 and rows[0]["kl"] == "" and float(rows[4]["kl"]) == \
        pytest.approx(history[4]["components"]["kl"])
    figures = sorted(os.listdir(out / "plots"))
    assert figures == [f"{kind}_run{run}.png" for kind in ("contingency", "embedding", "loss")
                       for run in (0, 1)]
    page = _parse(out / "report.html")
    assert set(page.images) == set(figures)
    for name in figures:  # embedded byte for byte
        assert page.images[name] == (out / "plots" / name).read_bytes()
    _check_metrics(page, out)
    assert "DAEGC on data" in page.body and "finetune:" in page.body  # title, config
    assert "Features" in page.body and "150" in page.body
    assert "config.yaml" in page.links and "results.json" in page.links


def test_runs_sharing_an_embedding_share_one_projection(graph, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import pyagc.runner.plots as plots
    calls = []
    original = plots.project_2d
    def counting(*args, **kwargs):
        calls.append(args[1:])
        return original(*args, **kwargs)
    monkeypatch.setattr(plots, "project_2d", counting)
    run_experiment("SSGC", data=graph, runs=3, seed=4, out_dir=str(tmp_path / "ssgc"),
                   plot=True, projection="pca", verbose=False)  # one embedding, 3 clusterings
    assert calls == [("pca", 4)]
    assert len(os.listdir(tmp_path / "ssgc" / "plots")) == 6


def test_run_report_without_plot_has_tables_and_no_figures(graph, tmp_path):
    out = tmp_path / "res"
    run_experiment("SSGC", data=graph, runs=2, out_dir=str(out), verbose=False)
    assert not (out / "plots").exists()
    page = _parse(out / "report.html")
    assert page.images == {} and "--plot" in page.body
    _check_metrics(page, out)
    assert "reused the deterministic embedding" in page.body


def test_report_escapes_text(graph, tmp_path):
    result = run_experiment("KMeans", data=graph, verbose=False)
    result.dataset = "<b>x</b> & y"
    result.config["model"]["note"] = "</pre><script>alert(1)</script>"
    text = run_report(result)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in text


def test_bench_report_holds_the_table_the_figure_and_each_config(graph, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    results = [run_experiment(method, data=graph, runs=2, out_dir=str(tmp_path / method),
                              verbose=False) for method in ("KMeans", "SSGC")]
    path = write_bench_report(str(tmp_path), results, ["GAE on data: it broke"])
    page = _parse(path)
    assert set(page.images) == {"bench.png"}
    assert page.images["bench.png"] == (tmp_path / "bench.png").read_bytes()
    for e in results:
        for key in ("NMI", "ACC"):
            stat = e.summary[key]
            assert f"{100 * stat['mean']:.2f} ± {100 * stat['std']:.2f}" in page.body
        assert f"{e.method} on data: config" in page.body
        assert f"{e.method}/report.html" in page.links
    assert "GAE on data: it broke" in page.body
    import pyagc.runner.plots as plots
    monkeypatch.setattr(plots, "has_matplotlib", lambda: False)
    (tmp_path / "bench.png").unlink()
    page = _parse(write_bench_report(str(tmp_path), results))
    assert page.images == {} and "matplotlib is not installed" in page.body
    assert not (tmp_path / "bench.png").exists()
