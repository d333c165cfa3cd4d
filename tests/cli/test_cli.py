"""The command line, driven in subprocesses as a user would."""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

TINY = ["--set", "data.num_nodes=200", "--set", "data.n_clusters=3"]


def _env():
    env = dict(os.environ)
    # One thread each: the suite runs on a shared 2-core machine.
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("PYAGC_DEBUG", None)
    return env


def pyagc(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pyagc", *map(str, args)], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=300)


def _console_script():
    script = shutil.which("pyagc")
    beside = os.path.join(os.path.dirname(sys.executable), "pyagc")
    return beside if os.path.exists(beside) else script


def test_list_shows_methods_with_family_and_datasets(tmp_path):
    # Through the installed console script when there is one (same entry point as -m pyagc).
    script = _console_script()
    command = [script, "list"] if script else [sys.executable, "-m", "pyagc", "list"]
    out = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.split()[:2] == ["KMeans", "traditional"] for line in lines)
    assert any(line.split()[:2] == ["SSGC", "non-parametric"] for line in lines)
    assert any(line.split()[:2] == ["GAE", "deep-decoupled"] for line in lines)
    assert any(line.split()[:2] == ["DMoN", "deep-joint"] for line in lines)
    assert "Synthetic" in out.stdout and "Cora" in out.stdout


def test_run_prints_the_table_and_writes_the_results_folder(tmp_path):
    out = pyagc("run", "GAE", *TINY, "--set", "epochs=4", "hidden_channels=8",
                "--runs", "2", "--out", "res", "--save-labels", "--plot", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = out.stdout
    for row in ("NMI (%)", "ARI (%)", "ACC (%)", "F1 (%)", "Homo (%)", "Comp (%)", "Mod (%)",
                "Cond (%)", "Train time (s)", "Inference time (s)", "Clustering time (s)",
                "Total time (s)", "Peak RSS (MB)"):
        assert f"| {row}" in table
    assert "±" in table and "GAE (deep-decoupled) on Synthetic (200 nodes" in table
    assert "k=3): 2 run(s) on cpu" in table
    res = tmp_path / "res"
    config = yaml.safe_load((res / "config.yaml").read_text())
    assert config["method"] == "GAE" and config["train"]["epochs"] == 4
    assert config["model"]["encoder"]["hidden_channels"] == 8 and config["data"]["num_nodes"] == 200
    results = json.loads((res / "results.json").read_text())
    assert [r["seed"] for r in results["runs"]] == [0, 1]
    assert 0.0 <= results["summary"]["NMI"]["mean"] <= 1.0
    rows = list(csv.DictReader((res / "results.csv").open()))
    assert len(rows) == 2
    assert float(rows[1]["NMI"]) == pytest.approx(results["runs"][1]["metrics"]["NMI"])
    curve = list(csv.DictReader((res / "loss_curve.csv").open()))
    assert len(curve) == 8 and {r["run"] for r in curve} == {"0", "1"}
    assert "| GAE" in (res / "summary.md").read_text()
    assert "Run 1 (seed 1)" in (res / "run.log").read_text()
    for run in (0, 1):
        labels = np.load(res / "labels" / f"run{run}.npy")
        assert labels.shape == (200,) and labels.max() < 3
        assert len((res / "labels" / f"run{run}.csv").read_text().splitlines()) == 201
        assert (res / "checkpoints" / f"run{run}" / "last.pt").is_file()
        assert (res / "checkpoints" / f"run{run}" / "best.pt").is_file()
        assert (res / "plots" / f"embedding_run{run}.png").stat().st_size > 1000
        assert (res / "plots" / f"loss_run{run}.png").stat().st_size > 1000
        assert (res / "plots" / f"contingency_run{run}.png").stat().st_size > 1000
    report = (res / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 6 and "GAE on Synthetic" in report


def test_predict_on_user_files_writes_labels(tmp_path):
    from pyagc.data import make_csbm
    graph = make_csbm(90, 3, num_features=6, feature_signal=3.0, seed=2)
    np.savetxt(tmp_path / "edges.csv", graph.edge_index.t().numpy(), fmt="%d", delimiter=",",
               header="src,dst", comments="")
    np.save(tmp_path / "features.npy", graph.x.numpy())
    out = pyagc("predict", "SSGC", "--graph", "edges.csv", "features.npy", "-k", "3",
                "--output", "labels.npy", "-q", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    labels = np.load(tmp_path / "labels.npy")
    assert labels.shape == (90,) and set(labels.tolist()) == {0, 1, 2}
    assert "90 nodes in 3 clusters" in out.stdout and "NMI" not in out.stdout
    assert not (tmp_path / "pyagc-results").exists()


def test_bench_ends_in_one_markdown_table(tmp_path):
    out = pyagc("bench", "KMeans", "SSGC", *TINY, "--runs", "2", "--out", "bench", "-q",
                cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = [line for line in out.stdout.splitlines() if line.startswith("|")]
    assert len(table) == 4 and table[0].split("|")[1].strip() == "Method"
    assert table[2].split("|")[1].strip() == "KMeans" and table[3].split("|")[1].strip() == "SSGC"
    assert (tmp_path / "bench" / "bench.md").read_text().strip() == "\n".join(table)
    assert (tmp_path / "bench" / "SSGC_synthetic" / "results.json").is_file()
    assert (tmp_path / "bench" / "SSGC_synthetic" / "report.html").is_file()
    report = (tmp_path / "bench" / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 1  # bench.png
    assert 'href="SSGC_synthetic/report.html"' in report


def _check_error(returncode, stderr, message):
    assert returncode == 1, (message, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyagc: error: "), stderr
    assert message in lines[0] and "Traceback" not in stderr


def test_unknown_method_exits_1_with_one_line(tmp_path):
    out = pyagc("run", "Nope", "--no-save", cwd=tmp_path)
    _check_error(out.returncode, out.stderr, "Unknown method 'Nope'")


# Each case goes through the CLI entry point, pyagc.cli.main, whose return value is the exit
# code (the test above checks that it reaches the shell); one subprocess runs them all, since
# starting Python + torch once per case would cost seconds each.
_DRIVER = """
import contextlib, io, json, sys
from pyagc.cli import main
out = {}
for name, args in json.loads(sys.argv[1]).items():
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = main(args)
    out[name] = [code, err.getvalue(), std.getvalue()]
print(json.dumps(out))
"""


def test_user_errors_end_in_one_line_and_exit_code_1(tmp_path):
    (tmp_path / "edges.txt").write_text("0 1\n1 2\n2 0\n")
    np.save(tmp_path / "x.npy", np.eye(3, dtype=np.float32))
    (tmp_path / "bad.yaml").write_text("train: [1, 2\n")
    cases = {
        "Unknown dataset 'Atlantis'": ["run", "SSGC", "--dataset", "Atlantis", "--no-save"],
        "Unknown config key 'train.epoch'": ["run", "GAE", "--set", "train.epoch=3",
                                             "--no-save"],
        "Graph file 'missing.csv' does not exist": ["run", "SSGC", "--graph", "missing.csv",
                                                    "--no-save"],
        "is not valid YAML": ["run", "SSGC", "--config", "bad.yaml", "--no-save"],
        "larger than the number of nodes (3)": ["run", "SSGC", "--graph", "edges.txt", "x.npy",
                                                "-k", "5", "--no-save"],
        "number of clusters is unknown": ["predict", "KMeans", "--graph", "edges.txt",
                                          "x.npy"],
        "--resume needs --out DIR": ["run", "SSGC", "--resume"],
        "SSGC needs node features": ["run", "SSGC", "--graph", "edges.txt", "-k", "2",
                                     "--no-save"],
        "--plot needs matplotlib": None,  # checked below only when matplotlib is missing
    }
    import torch
    if not torch.cuda.is_available():
        cases["CUDA is not available"] = ["run", "SSGC", "--device", "cuda", "--no-save"]
    try:
        import matplotlib  # noqa: F401
        cases.pop("--plot needs matplotlib")
    except ImportError:
        cases["--plot needs matplotlib"] = ["run", "SSGC", "--plot", "--no-save"]
    # Two success cases ride along: `pyagc config` prints the resolved YAML (every --set key),
    # and `pyagc run` without --out writes ./pyagc-results/<method>_<data>_<time>/.
    cases["config"] = ["config", "GAE", "--dataset", "ogbn-products", "--set", "lr=0.5",
                       "epochs=3"]
    cases["default-out"] = ["run", "KMeans", "--set", "data.num_nodes=60", "-q"]
    out = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(cases)], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout.strip().splitlines()[-1])
    code, stderr, stdout = results.pop("config")
    assert code == 0, stderr
    shown = yaml.safe_load(stdout)
    assert shown["model"]["encoder"]["gnn_type"] == "sage"        # the dataset override
    assert shown["train"]["lr"] == 0.5 and shown["train"]["epochs"] == 3
    code, stderr, stdout = results.pop("default-out")
    assert code == 0 and "| NMI (%)" in stdout, stderr
    for message, (code, stderr, _) in results.items():
        _check_error(code, stderr, message)
    # Only the successful run wrote a results folder.
    folders = os.listdir(tmp_path / "pyagc-results")
    assert len(folders) == 1 and folders[0].startswith("KMeans_synthetic_")
    assert (tmp_path / "pyagc-results" / folders[0] / "results.json").is_file()
