"""The ``pyagc`` command line (also ``python -m pyagc``).

::

    pyagc list                                   methods (with ECO family) and datasets
    pyagc config GAE --dataset Cora              the resolved config: every --set key
    pyagc run SSGC                               synthetic graph, metrics table
    pyagc run GAE --dataset Cora --root DIR --runs 5 --set epochs=100
    pyagc run DGI --graph edges.csv feats.npy labels.csv --n-clusters 7 --plot
    pyagc bench KMeans SSGC GAE --dataset Cora CiteSeer --root DIR
    pyagc predict SSGC --graph edges.csv feats.npy --n-clusters 5 --output labels.csv
    pyagc auto --graph edges.csv feats.npy --k-range 2:20 --budget 600 --plot
    torchrun --nproc_per_node=2 -m pyagc run DGI --mini-batch --distributed

A mistake a user can make (unknown method or dataset, bad ``--set`` key, missing file, more
clusters than nodes, ...) ends in one ``pyagc: error: ...`` line and exit code 1; set
``PYAGC_DEBUG=1`` to see the traceback instead.

Ctrl-C (SIGINT) and SIGTERM (what ``kill``, schedulers and containers send) stop a run the same
way: the current epoch ends, its checkpoint is written, the command exits with ``128 + signal``
(130 or 143) and ``--resume`` continues; a second signal stops at once.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import List, Optional

# OSError: a missing file, a folder where a file belongs (or the reverse), no permission, a
# full disk — each named by its message.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError, FloatingPointError)


def _user_errors() -> tuple:
    """:data:`USER_ERRORS`, and a distributed run's error (a process of the job died, or no
    process group): one line each."""
    from pyagc.utils.distributed import DistributedError
    return USER_ERRORS + (DistributedError,)


def _add_data_args(parser: argparse.ArgumentParser, many: bool = False) -> None:
    group = parser.add_argument_group("data")
    if many:
        group.add_argument("--dataset", nargs="+", metavar="NAME", default=None,
                           help="dataset name(s) (see `pyagc list`); default: synthetic CSBM")
    else:
        source = group.add_mutually_exclusive_group()
        source.add_argument("--dataset", metavar="NAME", default=None,
                            help="a named dataset (see `pyagc list`); default: a synthetic "
                                 "contextual SBM (offline)")
        source.add_argument("--graph", nargs="+", metavar="PATH", default=None,
                            help="your graph: EDGES [FEATURES [LABELS]] files (.csv/.txt/"
                                 ".npy/.npz)")
    group.add_argument("--root", metavar="DIR", default=None,
                       help="folder of the named datasets (default: $PYAGC_DATA or "
                            "~/.cache/pyagc/data)")


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("experiment")
    group.add_argument("--runs", type=int, default=1, metavar="N",
                       help="number of runs, seeds S, S+1, ... (default: 1)")
    group.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (default: 0)")
    group.add_argument("--device", default="cpu", metavar="DEV",
                       help="cpu, cuda, cuda:N or auto (default: cpu)")
    group.add_argument("--mini-batch", action="store_true",
                       help="train with neighbour sampling (fan-out/batch size from config)")
    group.add_argument("-k", "--n-clusters", type=int, default=None, metavar="K",
                       help="number of clusters (default: number of classes in the labels)")
    group.add_argument("--config", metavar="FILE", default=None,
                       help="YAML file overriding the method's packaged config")
    group.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[],
                       metavar="KEY=VALUE",
                       help="override config values, e.g. --set train.epochs=50 "
                            "hidden_channels=64 (see `pyagc config MODEL` for the keys)")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bars or progress lines; only the final table")


def _add_output_args(parser: argparse.ArgumentParser, folder: str, plot: str, labels: str):
    out = parser.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", default=None,
                     help=f"results folder (default: ./pyagc-results/{folder})")
    out.add_argument("--no-save", action="store_true", help="write no results folder")
    out.add_argument("--plot", action="store_true", help=plot)
    out.add_argument("--save-labels", action="store_true", help=labels)
    return out


def build_parser() -> argparse.ArgumentParser:
    from pyagc import __version__
    parser = argparse.ArgumentParser(
        prog="pyagc", description="Attributed graph clustering: run, compare and apply "
                                  "clustering methods on graphs.")
    parser.add_argument("--version", action="version", version=f"pyagc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("list", help="list the methods (with their family) and datasets")

    show = sub.add_parser("config", help="print a method's resolved config (YAML)")
    show.add_argument("method", metavar="MODEL")
    show.add_argument("--dataset", metavar="NAME", default=None,
                      help="apply this dataset's overrides")
    show.add_argument("--config", metavar="FILE", default=None)
    show.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[],
                      metavar="KEY=VALUE")

    run = sub.add_parser("run", help="train and evaluate one method; print the metrics table")
    run.add_argument("method", metavar="MODEL", help="method name (see `pyagc list`)")
    _add_data_args(run)
    _add_run_args(run)
    run.add_argument("--distributed", action="store_true",
                     help="one of several processes started by torchrun (torchrun "
                          "--nproc_per_node=N -m pyagc run MODEL --mini-batch --distributed): "
                          "the seed nodes, inference and KMeans are split between them; rank "
                          "0 writes the results (see docs/distributed.md)")
    out = _add_output_args(run, "<method>_<data>_<time>",
                           plot="draw each run's figures into plots/ and report.html: the "
                                "embedding map (clusters and classes), the cluster x class "
                                "table, the loss curves",
                           labels="write every node's cluster to labels/run<i>.csv and .npy")
    out.add_argument("--resume", action="store_true",
                     help="continue the interrupted run in --out DIR")
    out.add_argument("--projection", choices=("tsne", "pca"), default="tsne",
                     help="2-D projection of the embedding map (default: t-SNE on at most "
                          "3,000 sampled nodes)")

    bench = sub.add_parser("bench", help="several methods x datasets, one Markdown table")
    bench.add_argument("methods", nargs="+", metavar="MODEL")
    _add_data_args(bench, many=True)
    _add_run_args(bench)
    bench.add_argument("--out", metavar="DIR", default=None,
                       help="folder for one results folder per pair, bench.md, bench.png and "
                            "report.html (default: ./pyagc-results/bench_<time>)")

    auto = sub.add_parser("auto", help="choose a method and k without labels: every "
                                       "candidate scored, one picked")
    _add_data_args(auto)
    search = auto.add_argument_group("search")
    search.add_argument("--k-range", default="2:20", metavar="LOW:HIGH",
                        help="the k values to try, LOW:HIGH[:STEP] (default: 2:20)")
    search.add_argument("--methods", nargs="+", metavar="MODEL", default=None,
                        help="the portfolio (default: SSGC S2CAG DGI CCASSG; "
                             "non-parametric ones run first)")
    search.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="start no further method once this many seconds are spent "
                             "(default: no limit)")
    search.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default: 0)")
    search.add_argument("--n-seeds", type=int, default=3, metavar="N",
                        help="KMeans seeds per k, for the stability score (default: 3)")
    search.add_argument("--device", default="cpu", metavar="DEV",
                        help="cpu, cuda, cuda:N or auto (default: cpu)")
    search.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[],
                        metavar="MODEL.KEY=VALUE",
                        help="override one method's config, e.g. --set DGI.train.epochs=50")
    search.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    _add_output_args(auto, "auto_<data>_<time>",
                     plot="write auto_scores.png: each score against k per method",
                     labels="write the chosen partition to labels.csv")

    predict = sub.add_parser("predict", help="cluster a graph and write each node's label")
    predict.add_argument("method", metavar="MODEL")
    _add_data_args(predict)
    _add_run_args(predict)
    predict.add_argument("-o", "--output", metavar="FILE", default="labels.csv",
                         help="labels file: .npy (NumPy) or CSV 'node,cluster' (default: "
                              "labels.csv)")
    return parser


def _timestamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def _echo(quiet: bool):
    def echo(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)
    return echo


def _describe(result) -> str:
    records = len(result.records)
    return (f"{result.method} ({result.family}) on {result.dataset} ({result.num_nodes:,} "
            f"nodes, {result.num_edges:,} directed edges, k={result.n_clusters}): {records} "
            f"run(s) on {result.device}")


def cmd_list(args) -> int:
    from pyagc.data import available_datasets
    from pyagc.runner import list_methods
    methods = list_methods()
    print("Methods (pyagc run MODEL):")
    width = max(len(cls.__name__) for cls in methods)
    for cls in methods:
        extra = "  [mini-batch]" if cls.supports_mini_batch else ""
        print(f"  {cls.__name__.ljust(width)}  {cls.family:<15} {cls.description()}{extra}")
    print("\nDatasets (--dataset NAME):")
    print("  Synthetic (default, generated offline: contextual SBM)")
    print("  " + ", ".join(available_datasets()))
    return 0


def cmd_config(args) -> int:
    import yaml
    from pyagc.runner import get_method, resolve_config
    cls = get_method(args.method)
    config = resolve_config(cls.__name__, args.dataset, args.config, args.overrides)
    print(f"# {cls.__name__} ({cls.family})" + (f" on {args.dataset}" if args.dataset else ""))
    print(yaml.safe_dump(config, sort_keys=False, default_flow_style=False), end="")
    return 0


def _out_dir(args, dataset_name: str) -> Optional[str]:
    if getattr(args, "no_save", False):
        return None
    if args.out:
        return args.out
    return os.path.join("pyagc-results", f"{args.method}_{dataset_name}_{_timestamp()}")


class _GracefulInterrupt:
    """First Ctrl-C or SIGTERM: finish the current epoch, checkpoint it, stop (``--resume``
    continues). A second one: stop at once (the last periodic checkpoint is kept; a write in
    progress removes its temporary file)."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.hits = 0
        self.signum = None
        self.previous = {}

    def handler(self, signum, frame) -> None:
        self.hits += 1
        self.signum = signum
        if self.hits > 1:
            raise KeyboardInterrupt
        print("\npyagc: stopping after this epoch (Ctrl-C again to stop now).", file=sys.stderr)

    @property
    def exit_code(self) -> int:
        """``128 + signal number``, the shell's convention (130 for Ctrl-C)."""
        import signal
        return 128 + int(self.signum or signal.SIGINT)

    def callback(self, stage: str, epoch: int, loss: float) -> None:
        if self.hits:
            raise KeyboardInterrupt

    def __enter__(self) -> "_GracefulInterrupt":
        import signal
        for name in self.SIGNALS:
            number = getattr(signal, name, None)
            if number is not None:
                self.previous[number] = signal.signal(number, self.handler)
        return self

    def __exit__(self, *exc) -> None:
        import signal
        for number, previous in self.previous.items():
            signal.signal(number, previous)


def cmd_run(args) -> int:
    from pyagc.runner import run_experiment, run_table
    echo = _echo(args.quiet)
    if args.resume and not args.out:
        raise ValueError("--resume needs --out DIR, the results folder of the interrupted run.")
    data_name = args.dataset or ("graph" if args.graph else "synthetic")
    out_dir = _out_dir(args, data_name)
    try:
        with _GracefulInterrupt() as interrupt:
            result = run_experiment(
                args.method, dataset=args.dataset, graph=args.graph, root=args.root,
                runs=args.runs, seed=args.seed, device=args.device, mini_batch=args.mini_batch,
                config_file=args.config, overrides=args.overrides, n_clusters=args.n_clusters,
                out_dir=out_dir, resume=args.resume, verbose=not args.quiet, plot=args.plot,
                projection=args.projection, save_labels=args.save_labels, echo=echo,
                callbacks=[interrupt.callback], distributed=args.distributed)
    except KeyboardInterrupt:
        if out_dir:
            print(f"pyagc: interrupted. Continue with the same options plus --resume --out "
                  f"{out_dir}", file=sys.stderr)
        else:
            print("pyagc: interrupted.", file=sys.stderr)
        return interrupt.exit_code
    if args.distributed and int(os.environ.get("RANK", 0)) != 0:
        return 0  # rank 0 prints the table
    print(_describe(result))
    print(run_table(result))
    if result.out_dir:
        print(f"Results: {result.out_dir}")
    return 0


def cmd_bench(args) -> int:
    from pyagc.runner import get_method, markdown_summary, run_experiment
    from pyagc.runner.checkpoint import atomic_write_text
    from pyagc.runner.outputs import write_bench_report
    echo = _echo(args.quiet)
    for method in args.methods:  # unknown names fail before anything runs
        get_method(method)
    datasets = args.dataset or [None]
    base = args.out or os.path.join("pyagc-results", f"bench_{_timestamp()}")
    results, failures = [], []
    for dataset in datasets:
        for method in args.methods:
            label = f"{method} on {dataset or 'synthetic'}"
            echo(f"== {label}")
            try:
                results.append(run_experiment(
                    method, dataset=dataset, root=args.root, runs=args.runs, seed=args.seed,
                    device=args.device, mini_batch=args.mini_batch, config_file=args.config,
                    overrides=args.overrides, n_clusters=args.n_clusters,
                    out_dir=os.path.join(base, f"{method}_{dataset or 'synthetic'}"),
                    verbose=not args.quiet, echo=echo))
            except USER_ERRORS as err:
                if os.environ.get("PYAGC_DEBUG"):
                    raise
                failures.append(f"{label}: {err}")
                print(f"pyagc: error: {label}: {err}", file=sys.stderr)
    if results:
        table = markdown_summary(results)
        print(table)
        atomic_write_text(os.path.join(base, "bench.md"), table + "\n")
        write_bench_report(base, results, failures)
        print(f"Results: {os.path.abspath(base)}")
    return 1 if failures else 0


def _per_method_overrides(items: List[str]) -> dict:
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        method, dot, rest = key.partition(".")
        if not sep or not dot or not rest:
            raise ValueError(f"--set in auto takes MODEL.KEY=VALUE (e.g. DGI.train.epochs=50), "
                             f"got {item!r}.")
        out.setdefault(method, []).append(f"{rest}={value}")
    return out


def cmd_auto(args) -> int:
    from pyagc.runner import get_method, load_data, resolve_config
    from pyagc.runner.auto import DEFAULT_METHODS, auto
    from pyagc.runner.auto_outputs import auto_markdown, write_auto
    from pyagc.runner.experiment import labels_of
    overrides = _per_method_overrides(args.overrides)
    methods = [get_method(m).__name__ for m in (args.methods or DEFAULT_METHODS)]
    unused = sorted(set(overrides) - set(methods))
    if unused:
        raise ValueError(f"--set names {unused[0]}, which is not in the portfolio "
                         f"({', '.join(methods)}).")
    if args.plot:
        from pyagc.runner.plots import require_matplotlib
        require_matplotlib()
    data_cfg = resolve_config(methods[0], args.dataset, None, None)["data"]
    data, name = load_data(args.dataset, args.graph, args.root, data_cfg)
    echo = _echo(args.quiet)
    echo(f"auto on {name} ({data.num_nodes:,} nodes): {', '.join(methods)}, k {args.k_range}")
    import logging
    logger = logging.getLogger("pyagc.auto")
    if not args.quiet and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    result = auto(data, args.k_range, methods, budget=args.budget, seed=args.seed,
                  n_seeds=args.n_seeds, device=args.device, overrides=overrides,
                  dataset=args.dataset, logger=logger)
    settings = {"data": name, "k_range": args.k_range, "methods": " ".join(methods),
                "budget": args.budget, "seed": args.seed, "n_seeds": args.n_seeds}
    y = labels_of(data)
    out_dir = None if args.no_save else (args.out or os.path.join(
        "pyagc-results", f"auto_{name}_{_timestamp()}"))
    if out_dir:
        write_auto(result, out_dir, settings, y=y, plot=args.plot,
                   save_labels=args.save_labels)
    from pyagc.runner.auto_outputs import label_scores
    print(auto_markdown(result, settings, label_scores(result, y) if y is not None else None),
          end="")
    if out_dir:
        print(f"Results: {out_dir}")
    return 0


def cmd_predict(args) -> int:
    from pyagc.runner import run_experiment
    from pyagc.runner.outputs import check_output_file, write_labels
    out = args.output
    if not (out.lower().endswith(".npy") or out.lower().endswith(".csv")
            or out.lower().endswith(".txt")):
        raise ValueError(f"--output must end in .csv, .txt or .npy, got {out!r}.")
    check_output_file(out)  # before the run, not after it
    result = run_experiment(
        args.method, dataset=args.dataset, graph=args.graph, root=args.root, runs=1,
        seed=args.seed, device=args.device, mini_batch=args.mini_batch,
        config_file=args.config, overrides=args.overrides, n_clusters=args.n_clusters,
        out_dir=None, verbose=not args.quiet)
    write_labels(result.last.labels, out)
    k = int(result.last.labels.max()) + 1 if result.last.labels.numel() else 0
    metrics = ", ".join(f"{name}={value:.4f}" for name, value in result.records[0]["metrics"]
                        .items())
    print(f"{_describe(result)}: {result.last.labels.numel()} nodes in {k} clusters "
          f"({metrics}).")
    print(f"Labels: {os.path.abspath(out)}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"list": cmd_list, "config": cmd_config, "run": cmd_run, "bench": cmd_bench,
                "predict": cmd_predict, "auto": cmd_auto}
    try:
        return commands[args.command](args)
    except _user_errors() as err:
        if os.environ.get("PYAGC_DEBUG"):
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, FileNotFoundError) and err.filename and str(err.filename) not in \
                message:
            message = f"{message}: {err.filename}"
        print(f"pyagc: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
