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

Measured (2-core machine, ``--threads 1``, another job holding the other core throughout:
load 2.0-2.7, up to 4 while MinCut's inference and DMoN's epoch overlapped test runs), every
row a WHOLE epoch (``--train-budget 3000``; no row extrapolated), ``--max-rss-gb 20``
(CCASSG's first run, with the previous inference code, was stopped at 20.9 GB). Code: the
commit adding per-hop trimming to the seed-row losses (NS4GC, CCASSG, MinCut, DMoN,
Neuromap, GCSBM) and NS4GC's sparse sampled term (``benchmarks/bench_batch_cost.py``);
rows marked * also ran the in-place row-block inference and the CSR-native GCN
normalisation (``TunedGCN``), Neuromap's second row also the SciPy flow build
(``compute_flow``)::

    python benchmarks/bench_products_deep.py --graph-cache /tmp/products_like.pt \
        --methods NS4GC CCASSG MinCut DMoN Neuromap GCSBM GBT --threads 1 \
        --train-budget 3000 --timeout 3600 --max-rss-gb 20

| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | score s | peak RSS GB | NMI (1 epoch) | published V100 total s |
|---|---|---|---|---|---|---|---|---|---|---|
| NS4GC | sage 256x2, batch 16384, fan-out 10 | 516.6 | train 150/150 516.6 s | 540.1 | 85.0 | 48.8 | 8.0 | 12.51 | 25.79 | 2,234 |
| CCASSG * | gcn 512x2, batch 16384, fan-out 10 | 748.9 | train 150/150 748.9 s | 762.7 | 130.6 | 106.4 | 8.7 | 19.54 | 55.09 | 2,709 |
| MinCut | gcn 128x2, batch 4096, fan-out 10 | 337.8 | train 598/598 337.8 s | 354.2 | 136.0 | - | 13.1 | 15.42 | 1.77 | 1,953 |
| DMoN | gcn 64x1, batch 4096, fan-out 10 | 32.8 | train 598/598 32.8 s | 48.8 | 90.1 | - | 20.6 | 15.28 | 8.50 | 1,373 |
| DMoN * | gcn 64x1, batch 4096, fan-out 10 | 22.4 | train 598/598 22.4 s | 37.8 | 33.7 | - | 9.0 | 10.18 | 8.50 | 1,373 |
| Neuromap | gcn 64x1, batch 4096, fan-out 10 | 45.1 | train 598/598 45.1 s | 328.1 | 51.0 | - | 7.9 | 16.68 | 11.64 | 1,380 |
| Neuromap * | gcn 64x1, batch 4096, fan-out 10 | 22.4 | train 598/598 22.4 s | 138.9 | 34.0 | - | 7.8 | 11.57 | 11.64 | 1,380 |
| GCSBM * | gcn 64x1, batch 4096, fan-out 10 | 23.7 | warmup 598/598 24.4 s; train 598/598 23.7 s | 89.7 | 43.5 | - | 13.7 | 12.95 | 6.00 | - |
| GBT * | gcn 512x2, batch 16384, fan-out 10 | 793.3 | train 150/150 793.3 s | 807.5 | 128.7 | 118.4 | 8.5 | 19.57 | 37.68 | - |

Per batch against the previous session's partial rows (same configurations, same graph;
not back to back): NS4GC 3.4 s (49 s before), CCASSG 5.0 s (45 s), MinCut 0.56 s (4.1 s),
DMoN 0.037-0.055 s (0.19 s), Neuromap 0.037-0.075 s (0.45 s), GCSBM 0.040 s (0.41 s).
Neuromap's time outside its batches (``train s`` minus the epoch: mostly the whole graph's
flow, ``compute_flow``) fell from 283 s to 116 s with the SciPy build and products. GAE and DGI were
not re-run: their training step is unchanged (they trimmed already); their previous partial
rows (GAE 129/150 batches in 544 s -> 633 s per epoch, 13.7 GB; DGI 17/75 in 124 s -> 546 s,
14.0 GB; previous SAGE inference, 172-176 s) stand. GBT (never run before) trains like
CCASSG (5.3 s per batch, 19.6 GB: its 512-wide inference). A later short run, same conditions
(``--methods DinkNet S3GC MAGI --threads 1 --train-budget 240 --timeout 720 --max-rss-gb 20``):

| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | score s | peak RSS GB | NMI (1 epoch) | published V100 total s |
|---|---|---|---|---|---|---|---|---|---|---|
| DinkNet | | killed (timeout 720 s) | | | | | | 17.06 | | 5,116 |
| S3GC | | stopped (RSS over 20 GB) | | | | | | 20.59 | | 1,781 |
| MAGI | sage 256x1, batch 2048, fan-out 10 | 1,796 (partial: train 160/1196 batches in 240 s) | train 160/1196 240.3 s | 266.9 | 47.9 | 53.5 | 7.2 | 16.05 | 17.91 | 22,560 |

DinkNet's two stages, the centre initialisation and inference did not fit in 720 s (no
per-stage figures: the child was killed). S3GC passed 20 GB before its first epoch ended (its
precomputed ``AX``/``SX``, the learnable node table and its Adam state are all ``[N, *]``; not
profiled). DAEGC and VGAE were not run (session time; the 20,000-node smoke run, ``--nodes
20000``, passes for both).

Next session (same conditions; DinkNet ``--train-budget 4000 --timeout 4500 --max-rss-gb 21``,
S3GC ``--train-budget 600 --timeout 2400 --max-rss-gb 22.5``), with DinkNet's gradient-free
smoothing on the column-slab operator and its trimmed local table, and S3GC's recomputed
encoder blocks, perm-free walk graph, fused Adam for its 627M-parameter table and gradients
freed after each step:

| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | score s | peak RSS GB | NMI (1 epoch) | published V100 total s |
|---|---|---|---|---|---|---|---|---|---|---|
| DinkNet | sage 256x2, batch 32768, fan-out 10 | 632.5 | pretrain 75/75 583.8 s; finetune 75/75 169.9 s; finetune 75/75 632.5 s | 2253.8 | 446.8 | - | 7.6 | 20.71 | 10.49 | 5,116 |
| S3GC | batch 16384, fan-out 10 | 620.2 (partial: train 16/150 batches in 620 s -> 5814 s) | train 16/150 620.2 s | 700.2 | 17.4 | 46.1 | 10.7 | 18.87 | 4.80 | 1,781 |

DinkNet: a WHOLE run of both stages (one epoch each), 2,714 s wall. The first "finetune" pass
(169.9 s) is the global-term refresh iterating the training loader for its local table;
the rest of ``train s`` is the pretrain epoch, the centre initialisation and the global
term's ``power = 20`` whole-graph products (three smoothings of ``[N, 256]``: centre start,
refresh, inference; ~12 min each on one thread, ~36 s per product). S3GC: partial, 38.8 s
per batch (about a million distinct nodes through two 2-layer MLPs, forward, recomputed
forward and backward), ~5,800 s per epoch extrapolated; peak 18.9 GB, so it now fits. DAEGC
(the crash at its mini-batch centre start, CSR features in layer-wise inference, is fixed;
its run) was stopped unfinished at the session's end after 38 min.

Whole epochs of GAE, DGI, MAGI and VGAE (same graph and options, ``--threads 1``; GAE and DGI
from commit e7ff52c, MAGI and VGAE from the next one, whose bfloat16 probe counts AVX-512 BF16
CPUs as fast, so MAGI's similarity products ran in bfloat16 on this AMD EPYC; the other core
ran Cora and 200k-node benchmarks throughout, load ~2)::

    python benchmarks/bench_products_deep.py --graph-cache /tmp/products_like.pt \
        --methods GAE DGI MAGI VGAE --threads 1 --train-budget 4000 --timeout 5400 \
        --max-rss-gb 21

| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | score s | peak RSS GB | NMI (1 epoch) | published V100 total s |
|---|---|---|---|---|---|---|---|---|---|---|
| GAE | sage 256x2, batch 16384, fan-out 10 | 797.2 | train 150/150 797.2 s | 827.1 | 141.7 | 56.2 | 15.8 | 12.70 | 16.40 | 1,567 |
| DGI | sage 256x2, batch 32768, fan-out 10 | 951.5 | train 75/75 951.5 s | 983.4 | 123.4 | 59.5 | 12.7 | 12.44 | 7.77 | 3,019 |
| MAGI | sage 256x1, batch 2048, fan-out 10 | 3689.8 | train 1196/1196 3689.8 s | 3742.5 | 51.3 | 67.2 | 13.8 | 14.52 | 15.51 | 22,560 |
| VGAE | gcn 32x2, batch 16384, fan-out 10 | 567.8 | train 150/150 567.8 s | 584.5 | 85.2 | 9.4 | 12.9 | 11.03 | 8.62 | - |

GAE's and DGI's whole epochs (5.3 s and 12.7 s per batch) replace the partial rows extrapolated
from their first batches (633 s and 546 s, measured with less load on the other core). MAGI's
whole epoch (3.1 s per batch of 2,048 roots) is 16 % of the published 20-epoch total; it
replaces the partial row above (1.5 s per batch over the first 160 batches, another session's
machine, not compared back to back). VGAE (no ``ogbn-products`` entry: the YAML's 32-16 GCN,
batch 16,384) is not per-hop trimmed (``VariationalEncoder`` has no trimming) and needs none at
this width: 3.8 s per batch. Still without a whole Products epoch then: S3GC and DAEGC (S3GC's
is below). DAEGC's
first layer ran over each batch's whole two-hop subgraph, because its positives were the sampled
edges into the seeds (hop-1 rows); its batches now draw their positive edges as GAE's do
(``edges_per_root = 0.5``: every term reads seed rows, so the encoder trims to the seeds),
1.36x per epoch on the 200k-node graph (pretrain 114.4 -> 83.8 s, finetune 116.6 -> 86.1 s;
``--nodes 200000 --methods DAEGC``, back to back), where a batch's hop 1 already covers most of
the graph; at full size the first layer's rows drop from ~1.5M to the seeds and their hop 1.
Its full-size run (``--methods DAEGC --train-budget 420 --max-rss-gb 21``) was stopped at
21.19 GB in the centre start's layer-wise GAT inference (the generic path, which then kept
every batch's rows in a list and their concatenation); with one preallocated output a rerun
peaked at 19.17 GB so far but spent over 12 minutes in that inference on one thread, and was
stopped at the session's end: GAT needed a CSR whole-graph path like GCN's and SAGE's, which it
now has (below).
S3GC's feature maps now run in bfloat16 on such CPUs (1.37x per batch at 200k nodes,
``benchmarks/bench_s3gc_bf16.py``).

S3GC, whole epoch (commit 1406074: bfloat16 feature maps on this AVX-512 BF16 CPU, batches of
at least 2^17 distinct nodes; nothing else ran on the machine except light editing and one
nice'd test run)::

    python benchmarks/bench_products_deep.py --graph-cache /tmp/products_like.pt \
        --methods S3GC --threads 2 --train-budget 7000 --timeout 9000 --max-rss-gb 22.5

| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | score s | peak RSS GB | NMI (1 epoch) | published V100 total s |
|---|---|---|---|---|---|---|---|---|---|---|
| S3GC | batch 16384, fan-out 10 | 4000.1 | train 150/150 4000.1 s | 4081.4 | 19.9 | 34.8 | 11.7 | 22.19 | 16.57 | 1,781 |

26.7 s per batch on two threads (6,723 CPU s for the whole child), against 38.8 s per batch
on one thread in float32 for the partial row above. Its peak, 22.19 GB, is above that row's
18.87 GB (float32, one thread, 16 batches): not profiled; the two runs differ in precision,
threads and the number of batches. Not precision, as far as a smaller graph tells: at 200k
nodes, two threads, ``--train-budget 60 --set +model.bf16=true`` / ``false`` peak at 3.08 and
3.26 GB (5.2 and 7.4 s per batch); the number of batches (allocator growth over 150 of them)
or the threads remain, unconfirmed.

DAEGC with the whole-graph GAT inference (``TunedGAT.layerwise_conv``: :math:`W h` once per
layer, a segment softmax and one CSR product per block of targets; 2x faster and 1.2 GB less
than per-block subgraphs at 200k nodes, ``bench_layerwise_inference.py``), a whole run (both
stages, one epoch each; commit 82635df, the machine otherwise idle but for light editing and,
in the first 30 minutes, nice'd Cora runs beside it)::

    python benchmarks/bench_products_deep.py --graph-cache /tmp/products_like.pt \
        --methods DAEGC --threads 2 --train-budget 4000 --timeout 9000 --max-rss-gb 22

| method | config | epoch s | passes (stage batches/total s) | train s | infer s | KMeans s | score s | peak RSS GB | NMI (1 epoch) | published V100 total s |
|---|---|---|---|---|---|---|---|---|---|---|
| DAEGC | gat 256x2, batch 16384, fan-out 10 | 2728.6 | pretrain 150/150 3141.1 s; finetune 150/150 1225.4 s; finetune 150/150 2728.6 s | 7235.7 | 104.5 | - | 11.7 | 16.39 | 58.95 | 2,237 |

Per batch: 20.9 s pretraining (the Cora runs beside it slowed the first 60 batches to ~25 s;
~15 s alone), 18.2 s finetuning, 8.2 s for the target refresh (the first "finetune" pass,
forward only over the training loader's batches). The centre start (whole-graph GAT inference
and KMeans) is the rest of ``train s``, about 140 s; the final inference of every node's label
104.5 s (DAEGC labels nodes by its centres: no KMeans). 11,756 CPU s in all (7,360 s wall).

Since then the refresh is one layer-wise pass over the whole graph (``DAEGC.refresh_target``
with ``refresh_batch_size``, the default), the same computation as that final inference, so
~105 s instead of 1,225 s here (not rerun at full size); at 200k nodes 5.5 against 17.4 s
and 8.0 against 21.5 s in two runs (``bench_whole_graph_refresh.py``).

Memory. The joint methods (1-2-layer GCNs of width 64-128) peaked at 15.3-18.1 GB because
``gcn_norm`` of PyG turned the whole-graph CSR adjacency into ``[2, E]`` edge lists and back
to add the self-loops: 78 bytes of peak per edge (9 GB here) on top of the graph (3 GB),
the CSR adjacency (1.5 GB) and, during training, the loader's CSC copy (2 GB). The
normalisation now works on the CSR arrays (30 bytes per edge) and inference drops the
adjacency it cached: DMoN 15.3 -> 10.2 GB, Neuromap 16.7 -> 11.6 GB, GCSBM
18.1 -> 13.0 GB (MinCut, 15.4 GB, was not re-run). CCASSG's 19.5 GB is its 512-wide layer-wise
inference: two ``[N, 512]`` float32 layers (5 GB each) next to the graph and its two CSR
adjacencies (GBT's 19.6 GB likewise); the batch norm and ReLU that used to add a third and
a fourth now run in place.

The published V100 figure is the TOTAL of a whole run (10-1000 epochs, inference, KMeans) on
a GPU; ours is one epoch on one CPU core, so only orders of magnitude compare: NS4GC's epoch
is 23 % of its published 20-epoch total, CCASSG's 28 % of its 10-epoch total, MinCut's 17 %
of its total, DMoN's 2 %.
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
                break
        else:
            entry["seconds"] = time.perf_counter() - start
        # Also on stderr as each pass ends: a child killed later still leaves its passes.
        print(f"pass {json.dumps(entry)}", file=sys.stderr, flush=True)


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
