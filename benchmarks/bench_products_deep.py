"""Products-sized deep table: one whole mini-batch epoch and a full-graph inference per method.

    python benchmarks/bench_products_deep.py --graph-cache /tmp/scale2/products_like.pt \
        [--methods GAE DGI ...] [--threads 2] [--train-budget 540] [--timeout 900] \
        [--max-rss-gb 20]

The graph is :func:`pyagc.data.make_products_like` at full size (2,449,029 nodes, 121,851,230
directed edges, 100 features, 47 blocks), generated once into ``--graph-cache``
(``benchmarks/products_graph.py``) and read back by one child process per method, so that
each method's peak RSS (``os.wait4`` of the child) is its own, and only one method runs at a
time. The child drives the method through the runner as ``pyagc run METHOD --dataset
ogbn-products --mini-batch`` would (:func:`pyagc.runner.experiment.run_once`): the shipped
YAML with its ``ogbn-products`` entry where it has one (the published Products
configuration: encoder, batch size, fan-out), otherwise the shipped defaults; every training
stage shortened to ONE epoch; inference with the runner's default (layer-wise full-graph
inference, ``TunedGNN.inference``, targets in batches of 65,536) and KMeans (n_init 10,
sampled restarts) for decoupled methods, the model's own labels for joint ones.

An epoch that has not finished after ``--train-budget`` seconds stops early (the loader
yields no more batches); the row then says how many batches ran and extrapolates, labelled
"partial". ``--timeout`` kills a child that hangs altogether (row "killed").

Columns: ``epoch s`` is the time spent iterating the training batches of the (last) stage's
epoch (sampling, forward, backward, step); ``train s`` everything ``fit_embedding`` spends
before inference (build, ``prepare``, loaders, every stage, cluster-centre initialisation);
``infer s`` the full-graph embedding (and a joint model's labels); ``KMeans s`` the runner's
clustering step (decoupled methods); ``score s`` the metrics on 122M edges. NMI after one
epoch is not a quality figure (the published rows train 10-1000 epochs).

Measured (2-core machine, two threads, ANOTHER JOB HOLDING ONE CORE throughout: load 2.4-2.9,
so wall seconds are roughly CPU seconds of one core). The training budget was cut to fit the
session: GAE 540 s, DGI 120 s, the others 90 s; "partial" rows extrapolate the batches done
to the whole epoch (batch times are steady after the first). Inference: GAE and DGI ran the
previous SAGE layer-wise path (per-batch subgraphs; for this encoder alone
``bench_layerwise_inference.py --products-like`` measures 150.9 s / 13.9 GB for it against
64.5 s / 9.3 GB now); DMoN, NS4GC and MinCut the current SAGE path but the previous
``_stack``; CCASSG and later rows the current code (row-block GCN layers, one
``[N, width]`` tensor alive at a time). The first CCASSG run (previous code) was killed by
the kernel at 22.9 GB in inference.

| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | score s | peak RSS GB | NMI (1 epoch) | published V100 total s |
|---|---|---|---|---|---|---|---|---|---|---|
| GAE | sage 256x2, batch 16384, fan-out 10 | 633 (partial: 129/150 batches in 544 s) | train 129/150 544.4 s | 560.9 | 176.1 | 106.9 | 5.0 | 13.71 | 13.80 | 1,567 |
| DGI | sage 256x2, batch 32768, fan-out 10 | 546 (partial: 17/75 batches in 124 s) | train 17/75 123.8 s | 131.2 | 171.7 | 198.0 | 6.8 | 14.01 | 7.24 | 3,019 |
| DMoN | gcn 64x1, batch 4096, fan-out 10 | 114 (partial: 478/598 batches in 91 s) | train 478/598 91.0 s | 99.6 | 58.4 | - | 5.2 | 15.32 | 4.55 | 1,373 |
| NS4GC | sage 256x2, batch 16384, fan-out 10 | 7,416 (partial: 2/150 batches in 99 s) | train 2/150 98.9 s | 111.6 | 78.7 | 129.5 | 5.6 | 15.73 | 6.71 | 2,234 |
| MinCut | gcn 128x2, batch 4096, fan-out 10 | 2,452 (partial: 22/598 batches in 90 s) | train 22/598 90.2 s | 105.2 | 61.1 | - | 8.9 | 15.36 | 0.73 | 1,953 |
| CCASSG | gcn 512x2, batch 16384, fan-out 10 | 6,686 (partial: 3/150 batches in 134 s) | train 3/150 133.7 s | 146.5 | 114.6 | 233.7 | 7.1 | **21.08** | 55.26 | 2,709 |
| Neuromap | gcn 64x1, batch 4096, fan-out 10 | 268 (partial: 202/598 batches in 90 s) | train 202/598 90.4 s | 282.5 | 44.3 | - | 7.8 | **16.66** | 6.68 | 1,380 |
| GCSBM | gcn 64x1, batch 4096, fan-out 10 | 244 (partial: 223/598 batches in 91 s; warm-up stage 317/598 in 90 s -> 170 s) | warmup 317/598 90.0 s; train 223/598 91.0 s | 220.1 | 45.9 | - | 8.1 | **18.05** | 6.94 | - |

Not run (session time): S3GC, DinkNet, DAEGC, GBT, VGAE, MAGI (the 20,000-node smoke run,
``--nodes 20000``, passes for all of them but MAGI, which did not finish within its budget
there). Neuromap's ``train s`` exceeds its epoch by 190 s spent outside the batches (its
``prepare`` / loader set-up, not profiled). The joint methods (DMoN, MinCut, Neuromap,
GCSBM: 1-2-layer GCNs) peak at 15.3-18.1 GB although their encoders are small: not
profiled yet; the graph (3 GB), the loader's CSC copy and the encoder's two cached CSR
adjacencies (raw and normalised, ~1.5 GB each) are the candidates.

The published V100 figure is the TOTAL of a whole run (10-1000 epochs, inference, KMeans) on
a GPU; ours is one epoch on about one CPU core, so only orders of magnitude compare: GAE's
epoch is 40 % of the published 20-epoch total, DMoN's 8 % of its total; NS4GC's (49 s per batch: its
loss compares all pairs of the 16,384 seeds) and CCASSG's (45 s per batch: a 512-wide GCN
over two augmented 2-hop views of 16,384 seeds) cost 2-3x a published run per epoch.
Memory: GAE, DGI, DMoN, NS4GC and MinCut stay under 16 GB; CCASSG does not: its TRAINING batches
(512-wide activations of two views of ~1.8M sampled nodes) alone reach ~19.4 GB; its
published configuration needs a smaller batch on a 16 GB machine. KMeans on 256- and
512-wide embeddings (107-234 s) costs far more than on SSGC's 100 columns (11 s); not
profiled yet.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

#: Published V100 totals on ogbn-products (``/work/shared/reference/published-results.md``).
PUBLISHED_TOTAL_S = {"GAE": 1567.07, "DGI": 3019.28, "CCASSG": 2709.49, "S3GC": 1780.52,
                     "NS4GC": 2234.44, "MAGI": 22559.79, "DAEGC": 2236.93, "DinkNet": 5116.07,
                     "MinCut": 1952.84, "DMoN": 1372.52, "Neuromap": 1380.00}
METHODS = ["GAE", "DGI", "DMoN", "NS4GC", "CCASSG", "GBT", "VGAE", "MinCut", "Neuromap",
           "GCSBM", "DinkNet", "DAEGC", "S3GC", "MAGI"]


HEADER = ("| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | "
          "score s | peak RSS GB | NMI (1 epoch) | published V100 total s |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")


class TimedLoader:
    """A training loader that records each pass over it (batches, seconds) and stops a pass
    after ``budget`` seconds; every other attribute is the wrapped loader's."""

    def __init__(self, loader, budget: float, log: list, stage: str) -> None:
        self._loader, self._budget, self._log, self._stage = loader, budget, log, stage

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def __len__(self) -> int:
        return len(self._loader)

    def __iter__(self):
        entry = {"stage": self._stage, "batches": 0, "total": len(self._loader),
                 "seconds": 0.0}
        self._log.append(entry)
        start = time.perf_counter()
        for batch in self._loader:
            yield batch  # the model trains on it before asking for the next one
            entry["batches"] += 1
            entry["seconds"] = time.perf_counter() - start
            if entry["seconds"] > self._budget and entry["batches"] < entry["total"]:
                entry["stopped"] = True
                return
        entry["seconds"] = time.perf_counter() - start


def one_epoch_config(method: str, overrides):
    """The runner's config of ``method`` on ogbn-products with every stage set to one epoch
    (and the config's own batch size, fan-out and encoder)."""
    from pyagc.runner.config import apply_overrides, resolve_config
    config = resolve_config(method, "ogbn-products")
    train = config["train"]
    train["epochs"] = 1
    for stage in (train.get("stages") or {}).values():
        if stage is not None:
            stage["epochs"] = 1
    if overrides:
        config = apply_overrides(config, overrides)
    return config


def child(args) -> None:
    import torch
    from pyagc.runner.config import training_stages
    from pyagc.runner.experiment import run_once
    from pyagc.runner.registry import get_method
    from products_graph import load_products_like

    torch.set_num_threads(args.threads)
    cls = get_method(args.child)
    config = one_epoch_config(cls.__name__, args.set)
    passes: list = []
    # train_model builds one loader per stage, in order.
    stages = [stage["name"] for stage in training_stages(config["train"]) if stage["epochs"]]
    original, built = cls.train_loader, []

    def timed_train_loader(self, data, **kwargs):
        name = stages[min(len(built), len(stages) - 1)]
        built.append(name)
        return TimedLoader(original(self, data, **kwargs), args.train_budget, passes, name)
    cls.train_loader = timed_train_loader
    start = time.perf_counter()
    data = load_products_like(args.graph_cache, args.nodes)
    t_load = time.perf_counter() - start
    result = run_once(cls, data, config, seed=0, mini_batch=True, verbose=False,
                      keep_embedding=False)
    total = time.perf_counter() - start - t_load
    times = result.times
    row = {"method": cls.__name__, "family": cls.family, "load_s": t_load,
           "train_s": times["train"], "infer_s": times["inference"],
           "cluster_s": times["clustering"],
           "score_s": total - times["train"] - times["inference"] - times["clustering"],
           "passes": passes, "NMI": 100 * result.metrics.get("NMI", float("nan")),
           "ACC": 100 * result.metrics.get("ACC", float("nan")),
           "encoder": config["model"].get("encoder"), "batch_size": config["train"]["batch_size"],
           "fan_out": config["train"]["fan_out"]}
    with open(args.out, "w") as fh:
        json.dump(row, fh)


def _rss_gb(pid: int) -> float:
    """Resident memory of process ``pid`` in GiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return 0.0


def run_child(method: str, args) -> dict:
    out = tempfile.NamedTemporaryFile(prefix=f"products_{method}_", suffix=".json",
                                      delete=False).name
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, "--graph-cache",
           args.graph_cache, "--threads", str(args.threads), "--train-budget",
           str(args.train_budget), "--out", out]
    if args.nodes is not None:
        cmd += ["--nodes", str(args.nodes)]
    for item in args.set or ():
        cmd += ["--set", item]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True)
    status, usage, killed = None, None, None
    while status is None:
        pid, status_code, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status = status_code
            break
        if time.perf_counter() - start > args.timeout:
            killed = "killed (timeout)"
        elif args.max_rss_gb and _rss_gb(proc.pid) > args.max_rss_gb:
            killed = f"stopped (RSS over {args.max_rss_gb:g} GB)"
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.5)
    proc.returncode = status
    row = {"method": method, "wall_s": time.perf_counter() - start,
           "rss_gb": usage.ru_maxrss / 2 ** 20, "cpu_s": usage.ru_utime + usage.ru_stime}
    if not killed and status == 0 and os.path.getsize(out):
        with open(out) as fh:
            row.update(json.load(fh))
    else:
        row["failed"] = killed or f"exit status {status}"
    os.unlink(out)
    return row


def format_row(row: dict) -> str:
    method = row["method"]
    published = PUBLISHED_TOTAL_S.get(method)
    published = f"{published:,.0f}" if published else "-"
    enc = row.get("encoder") or {}
    config = (f"{enc['gnn_type']} {enc['hidden_channels']}x{enc['num_layers']}, " if enc else "") \
        + (f"batch {row['batch_size']}, fan-out {row['fan_out']}" if "batch_size" in row else "")
    if "failed" in row:
        return (f"| {method} | | {row['failed']} | | | | | | {row['rss_gb']:.2f} | | "
                f"{published} |")
    passes = [p for p in row["passes"] if p["batches"]]
    epoch = passes[-1]
    note = ""
    if any(p.get("stopped") for p in passes):
        note = " (partial: " + ", ".join(
            f"{p['stage']} {p['batches']}/{p['total']} batches in {p['seconds']:.0f} s -> "
            f"{p['seconds'] / p['batches'] * p['total']:.0f} s" for p in passes
            if p.get("stopped")) + ")"
    stages = "; ".join(f"{p['stage']} {p['batches']}/{p['total']} {p['seconds']:.1f} s"
                       for p in passes)
    cluster = f"{row['cluster_s']:.1f}" if row["family"] == "deep-decoupled" else "-"
    return (f"| {method} | {config} | {epoch['seconds']:.1f}{note} | {stages} | {row['train_s']:.1f} | "
            f"{row['infer_s']:.1f} | {cluster} | {row['score_s']:.1f} | {row['rss_gb']:.2f} | "
            f"{row['NMI']:.2f} | {published} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph-cache", default="/tmp/pyagc-products-like.pt")
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--nodes", type=int, default=None,
                        help="a smaller Products-like graph (smoke tests); default full size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-budget", type=float, default=540.0,
                        help="seconds after which a training pass stops (reported as partial)")
    parser.add_argument("--timeout", type=float, default=1200.0,
                        help="seconds after which a child is killed")
    parser.add_argument("--max-rss-gb", type=float, default=None,
                        help="stop a child whose resident memory exceeds this many GiB "
                             "(row 'stopped'; checked every 0.5 s)")
    parser.add_argument("--set", action="append", default=None,
                        help="config override KEY=VALUE for every method (e.g. "
                             "train.layerwise_batch_size=32768)")
    parser.add_argument("--jsonl", default=None, help="append each method's row here")
    parser.add_argument("--table-from", default=None,
                        help="print the table of the rows stored in this --jsonl file; run nothing")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.table_from:
        print(HEADER)
        with open(args.table_from) as fh:
            for line in fh:
                print(format_row(json.loads(line)))
        return
    if not os.path.exists(args.graph_cache):  # generate in a child: its ~9.7 GB peak goes
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "from products_graph import load_products_like; load_products_like("
                        "sys.argv[2], None if sys.argv[3] == 'None' else int(sys.argv[3]))",
                        HERE, args.graph_cache, str(args.nodes)], check=True)
    print(HEADER, flush=True)
    for method in args.methods:
        row = run_child(method, args)
        if args.jsonl:
            with open(args.jsonl, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        print(format_row(row), flush=True)


if __name__ == "__main__":
    main()
