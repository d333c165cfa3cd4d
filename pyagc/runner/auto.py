"""Label-free choice of a method and of the number of clusters ``k`` (``pyagc auto``).

A graph of one's own has no labels, so no NMI to choose by. :func:`auto` runs a portfolio of
methods (the non-parametric ones first, then the deep ones while the time budget lasts),
computes each method's embedding once, clusters it with KMeans for every ``k`` of the range
(several seeds; each ``k`` also tries a warm start from the centres found for ``k - 1``), and
scores every candidate ``(method, k)`` from the graph and the embedding alone:

* ``Mod`` — modularity of the partition (higher is better);
* ``Cond`` — mean conductance of its clusters (lower is better);
* ``Sil`` — silhouette of the partition on the (L2-normalised) embedding, on a seeded sample
  of at most ``silhouette_sample`` nodes (higher is better);
* ``Stab`` — stability: the mean adjusted Rand index (ARI) between the partitions of the
  KMeans seeds (higher is better);
* ``Agree`` — agreement: the mean ARI between this partition and the other methods'
  partitions for the same ``k`` (with one method: ``Stab``).

Then it picks one candidate by :data:`RULE` (see :func:`choose`), and explains the choice.
The labels of the graph, if it has any, are removed before anything runs.

Why this rule (``benchmarks/bench_auto.py`` measures it): methods that see the graph and the
features differently agree with each other most at the ``k`` the data supports, and the
partition that agrees most with the others is the "median" of the ensemble. Agreement alone
favours small ``k`` where similar filters trivially agree (SSGC, SGC and S2CAG alone pick
``k = 2`` on Cora); modularity alone keeps growing with ``k`` on real graphs (CiteSeer: 18 to
20) and, across methods, prefers the most smoothing filter. Their product picks the true ``k``
on the synthetic graphs. Between methods, agreement at one ``k`` differs by a few hundredths
of ARI, within KMeans noise, so the method is chosen by its agreement averaged over ``k`` and
its neighbours in the range. The default portfolio holds no two near-identical methods (SGC,
a plain low-pass filter like SSGC, is left out): a consensus rule counts a duplicate as a
second vote.
"""
from __future__ import annotations

import itertools
import logging
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from pyagc.models import BaseModel
from pyagc.runner.config import resolve_config
from pyagc.runner.experiment import as_data, fit_embedding, resolve_device
from pyagc.runner.registry import FAMILIES, get_method
from pyagc.utils.validation import check_scalar

#: The default portfolio, cheapest first: the deep methods run while the budget lasts.
DEFAULT_METHODS = ("SSGC", "S2CAG", "DGI", "CCASSG")
#: Scores of a candidate: name -> whether higher is better.
SCORES = {"Mod": True, "Cond": False, "Sil": True, "Stab": True, "Agree": True}
#: The decision rule, in words (written into ``auto.md``).
RULE = ("k: the k that maximises (mean agreement of the methods' partitions at k) x (mean "
        "modularity at k); method: the one whose partitions agree most with the other "
        "methods' at that k and its neighbours in the range (mean over k - 1, k, k + 1). "
        "Agreement is the mean ARI with the other methods' partitions (with a single method, "
        "the stability across KMeans seeds).")
#: Embeddings wider than this are projected on their top principal components for the sweep.
SWEEP_DIMS = 128
#: Agreement and stability (ARI) are computed on a seeded sample of at most this many nodes.
ARI_SAMPLE = 100_000


@dataclass
class Candidate:
    """One ``(method, k)``: its label-free scores and its partition."""

    method: str
    k: int
    scores: Dict[str, float]
    labels: Tensor
    inertia: float
    time_cluster: float

    def row(self) -> Dict[str, Any]:
        return {"method": self.method, "k": self.k,
                **{name: self.scores.get(name, float("nan")) for name in SCORES},
                "time_cluster": self.time_cluster}


@dataclass
class AutoResult:
    """What :func:`auto` returns: every candidate, the chosen one and why.

    Attributes:
        candidates: every scored ``(method, k)``, in the order they were computed.
        choice: the chosen candidate (``choice.labels`` is the partition).
        reason: the decision rule applied to these candidates, in words.
        method_times: seconds each method took to embed (and to sweep ``k``).
        skipped: methods not run, and why (budget, a failure).
    """

    candidates: List[Candidate]
    choice: Candidate
    reason: str
    method_times: Dict[str, Dict[str, float]] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.choice.method

    @property
    def k(self) -> int:
        return self.choice.k

    @property
    def labels(self) -> Tensor:
        return self.choice.labels

    def rows(self) -> List[Dict[str, Any]]:
        """One dict per candidate (method, k, the scores, clustering seconds)."""
        return [c.row() for c in self.candidates]


# --------------------------------------------------------------------------- scoring
def _kmeans(z: Tensor, k: int, seed: int, n_init: int, init: Optional[Tensor] = None):
    from pyagc.clusters import TorchKMeans
    km = TorchKMeans(n_clusters=k, n_init=n_init, random_state=seed,
                     init=init if init is not None else "k-means++")
    km.fit(z)
    return km.labels_.cpu(), km.cluster_centers_, float(km.inertia_)


def _warm_centres(z: Tensor, centres: Tensor, k: int, seed: int) -> Tensor:
    """``centres`` of ``k - 1`` clusters plus one more drawn by the k-means++ rule
    (probability proportional to the squared distance to the nearest centre)."""
    gen = torch.Generator().manual_seed(seed)
    need = k - centres.size(0)
    out = centres
    for _ in range(need):
        d2 = torch.cdist(z, out).min(dim=1).values.pow(2).double()
        if float(d2.sum()) <= 0:
            idx = int(torch.randint(z.size(0), (1,), generator=gen))
        else:
            idx = int(torch.multinomial(d2 / d2.sum(), 1, generator=gen))
        out = torch.cat([out, z[idx:idx + 1]], dim=0)
    return out


def principal_components(z: Tensor, dims: int, seed: int = 0) -> Tensor:
    """``z [N, d]`` centred and projected on its top ``dims`` principal components
    (randomized SVD, seeded): ``[N, dims]``."""
    from pyagc.ops.svd import randomized_svd
    u, s, _ = randomized_svd(z - z.mean(dim=0), dims, seed=seed)
    return u * s


def _silhouette(z: np.ndarray, labels: np.ndarray, sample: int, seed: int) -> float:
    from sklearn.metrics import silhouette_score
    if len(np.unique(labels)) < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    index = np.arange(z.shape[0]) if z.shape[0] <= sample else \
        np.sort(rng.choice(z.shape[0], sample, replace=False))
    if len(np.unique(labels[index])) < 2:
        return float("nan")
    return float(silhouette_score(z[index], labels[index]))


def _ari_index(num_nodes: int, seed: int) -> np.ndarray:
    if num_nodes <= ARI_SAMPLE:
        return np.arange(num_nodes)
    return np.sort(np.random.default_rng(seed).choice(num_nodes, ARI_SAMPLE, replace=False))


def _mean_ari(partitions: Sequence[np.ndarray], index: np.ndarray) -> float:
    """Mean ARI over all pairs of ``partitions`` (on the nodes ``index``)."""
    from sklearn.metrics import adjusted_rand_score
    pairs = list(itertools.combinations(range(len(partitions)), 2))
    if not pairs:
        return float("nan")
    return float(np.mean([adjusted_rand_score(partitions[a][index], partitions[b][index])
                          for a, b in pairs]))


def sweep_k(z: Tensor, edge_index: Tensor, ks: Sequence[int], method: str, *, seed: int = 0,
            n_seeds: int = 3, n_init: int = 10, silhouette_sample: int = 2000,
            warm_start: bool = True, normalize: bool = True,
            max_dims: Optional[int] = SWEEP_DIMS) -> List[Candidate]:
    """Cluster one embedding ``z [N, d]`` for every ``k`` in ``ks`` and score each partition.

    For each ``k``, KMeans runs with ``n_seeds`` seeds (``n_init`` restarts each); with
    ``warm_start`` the first seed also starts from the previous ``k``'s centres plus one
    k-means++ draw, and keeps whichever of the two ends with the lower inertia. The candidate's
    partition is the seeds' partition of lowest inertia.

    An embedding wider than ``max_dims`` columns is first projected (after the L2
    normalisation) on its top ``max_dims`` principal components (seeded randomized SVD): the
    sweep clusters it ~19 times, and on Cora and CiteSeer (SSGC, 1,433 and 3,703 columns) the
    partitions' NMI stays within KMeans noise while the sweep runs 7x and 18x faster
    (``benchmarks/bench_auto.py --projection-check``). ``None`` keeps every column.
    """
    from pyagc.metrics import structure_metrics
    z = z.detach().float().cpu()
    if normalize:
        z = F.normalize(z, p=2, dim=1)
    if max_dims is not None and z.size(1) > max_dims:
        z = principal_components(z, max_dims, seed)
    z_np = z.numpy()
    out: List[Candidate] = []
    previous: Optional[Tensor] = None
    for k in ks:
        t0 = time.perf_counter()
        runs = []
        for s in range(n_seeds):
            labels, centres, inertia = _kmeans(z, k, seed + s, n_init)
            if s == 0 and warm_start and previous is not None and previous.size(0) < k:
                warm = _kmeans(z, k, seed, 1, _warm_centres(z, previous, k, seed + k))
                if warm[2] < inertia:
                    labels, centres, inertia = warm
            runs.append((labels, centres, inertia))
        best = min(runs, key=lambda run: run[2])
        previous = runs[0][1].cpu()
        labels = best[0]
        scores = structure_metrics(edge_index, labels, ("Mod", "Cond"))
        scores["Sil"] = _silhouette(z_np, labels.numpy(), silhouette_sample, seed)
        scores["Stab"] = _mean_ari([run[0].numpy() for run in runs],
                                   _ari_index(z.size(0), seed))
        out.append(Candidate(method, int(k), {n: float(v) for n, v in scores.items()},
                             labels, best[2], time.perf_counter() - t0))
    return out


# --------------------------------------------------------------------------- the rule
def add_agreement(candidates: Sequence[Candidate], seed: int = 0) -> None:
    """Set ``scores['Agree']`` of every candidate: its mean ARI with the other methods'
    candidates of the same ``k`` (its ``Stab`` when no other method has that ``k``)."""
    from sklearn.metrics import adjusted_rand_score
    if not candidates:
        return
    index = _ari_index(candidates[0].labels.numel(), seed)
    by_k: Dict[int, List[Candidate]] = {}
    for cand in candidates:
        by_k.setdefault(cand.k, []).append(cand)
    for group in by_k.values():
        parts = [c.labels.numpy()[index] for c in group]
        for i, cand in enumerate(group):
            others = [adjusted_rand_score(parts[i], parts[j]) for j in range(len(group))
                      if j != i]
            cand.scores["Agree"] = float(np.mean(others)) if others else cand.scores["Stab"]


def k_scores(candidates: Sequence[Candidate]) -> Dict[int, float]:
    """The rule's score of every ``k``: mean ``Agree`` x mean ``Mod`` of its candidates."""
    by_k: Dict[int, List[Candidate]] = {}
    for cand in candidates:
        by_k.setdefault(cand.k, []).append(cand)
    return {k: _mean_score(group, "Agree") * _mean_score(group, "Mod")
            for k, group in sorted(by_k.items())}


def _window(k_score: Mapping[int, float], k: int) -> List[int]:
    """``k`` and its neighbours among the swept values."""
    ks = sorted(k_score)
    at = ks.index(k)
    return ks[max(at - 1, 0):at + 2]


def neighbour_agreement(candidates: Sequence[Candidate], window: Sequence[int]
                        ) -> Dict[str, float]:
    """Each method's ``Agree`` averaged over the ``k`` of ``window`` (see :func:`_window`)."""
    window = set(window)
    per_method: Dict[str, List[float]] = {}
    for cand in candidates:
        if cand.k in window and not math.isnan(cand.scores["Agree"]):
            per_method.setdefault(cand.method, []).append(cand.scores["Agree"])
    return {method: float(np.mean(values)) for method, values in per_method.items()}


def _mean_score(group: Sequence[Candidate], name: str) -> float:
    values = [c.scores[name] for c in group if not math.isnan(c.scores[name])]
    return float(np.mean(values)) if values else float("-inf")


def choose(candidates: Sequence[Candidate]) -> Tuple[Candidate, str]:
    """The chosen candidate and the reason, by :data:`RULE` (the candidates carry ``Agree``,
    see :func:`add_agreement`)."""
    if not candidates:
        raise ValueError("No candidate to choose from: every method failed or was skipped.")
    k_score = k_scores(candidates)
    k = max(k_score, key=lambda key: (k_score[key], -key))
    group = [c for c in candidates if c.k == k]
    window = neighbour_agreement(candidates, _window(k_score, k))
    best = max(group, key=lambda c: (window.get(c.method, float("-inf")), c.scores["Agree"],
                                     c.scores["Mod"]))
    runner_up = sorted(k_score, key=lambda key: -k_score[key])[1:2]
    reason = (f"{best.method} with k = {k}: k = {k} has the highest agreement x modularity "
              f"({_mean_score(group, 'Agree'):.3f} x {_mean_score(group, 'Mod'):.3f} = {k_score[k]:.4f}"
              + (f"; next k = {runner_up[0]} with {k_score[runner_up[0]]:.4f}" if runner_up
                 else "") + ")")
    if len(group) > 1:
        reason += (f", and {best.method}'s partitions agree most with the other "
                   f"{len(group) - 1} method(s) around it (mean ARI over k = "
                   f"{', '.join(str(key) for key in _window(k_score, k))}: "
                   f"{window.get(best.method, float('nan')):.3f})")
    else:
        reason += " (one method: agreement is its stability across KMeans seeds)"
    reason += "."
    if len({c.method for c in candidates}) == 2:
        reason += (" Caution: with two methods the agreement is one pairwise vote, a fragile "
                   "guide to k (SSGC and S2CAG alone chose k more than 2 off the true k on 2 "
                   "of 12 synthetic graphs; with SGC as a third method, on none): add a "
                   "method, e.g. --methods SSGC SGC S2CAG.")
    return best, reason


# --------------------------------------------------------------------------- driver
def _parse_k_range(k_range: Union[str, Sequence[int]]) -> List[int]:
    if isinstance(k_range, str):
        parts = k_range.split(":")
        if len(parts) not in (2, 3) or not all(p.strip().lstrip("-").isdigit() for p in parts):
            raise ValueError(f"--k-range must read LOW:HIGH or LOW:HIGH:STEP (e.g. 2:20), got "
                             f"{k_range!r}.")
        low, high, *step = (int(p) for p in parts)
        ks = list(range(low, high + 1, step[0] if step else 1)) if (not step or step[0] > 0) \
            else []
    else:
        ks = [check_scalar(k, "k", numbers.Integral) for k in k_range]
    if not ks or any(k < 2 for k in ks):
        raise ValueError(f"The k range must hold integers >= 2 (a partition in one cluster "
                         f"has nothing to compare), got {k_range!r}.")
    return sorted(set(ks))


def _ordered_methods(methods: Optional[Sequence[str]]) -> List[type]:
    classes = [get_method(m) for m in (methods or DEFAULT_METHODS)]
    for cls in classes:
        if cls.family == "deep-joint":
            raise ValueError(
                f"{cls.__name__} is a joint method: it trains its own clusters for one k, so "
                "auto cannot sweep k over one embedding. Choose decoupled or non-parametric "
                "methods for auto, and run joint ones with `pyagc run METHOD -k K`.")
    # Non-parametric and traditional ones first: they are cheap and always fit the budget.
    rank = {"non-parametric": 0, "traditional": 1, "deep-decoupled": 2}
    return sorted(dict.fromkeys(classes), key=lambda c: rank.get(c.family, 3))


def auto(data: Any, k_range: Union[str, Sequence[int]] = "2:20",
         methods: Optional[Sequence[str]] = None, *, budget: Optional[float] = None,
         seed: int = 0, n_seeds: int = 3, silhouette_sample: int = 2000,
         warm_start: bool = True, sweep_dims: Optional[int] = SWEEP_DIMS,
         device: Optional[str] = "cpu",
         overrides: Optional[Mapping[str, Any]] = None, dataset: Optional[str] = None,
         verbose: bool = False, logger: Optional[logging.Logger] = None) -> AutoResult:
    """Choose a method and ``k`` for a graph without labels.

    Args:
        data: the graph (anything :func:`pyagc.cluster` accepts). Its labels, if any, are
            dropped before anything runs.
        k_range: ``'LOW:HIGH'`` (``'LOW:HIGH:STEP'``, both ends included) or the ``k``
            values themselves (a list or ``range``); each ``k >= 2``.
        methods: the portfolio (default :data:`DEFAULT_METHODS`); non-parametric methods run
            first. Joint methods are refused (they train for one ``k``).
        budget: seconds; a method starts only while the time spent is below it, and a
            trainable one is stopped (and left out) at the first epoch that ends past it. The
            first method always runs to the end; ``None``: no limit.
        seed: seed of the embeddings and of the first KMeans seed.
        n_seeds: KMeans seeds per ``k`` (stability needs ``>= 2``).
        silhouette_sample: nodes sampled (seeded) for the silhouette.
        warm_start: also start KMeans for ``k`` from the centres of ``k - 1``.
        sweep_dims: embeddings wider than this are clustered on their top principal
            components (see :func:`sweep_k`); ``None`` keeps every column.
        device: where the embeddings are computed.
        overrides: per-method config overrides, ``{'DGI': {'train.epochs': 50}}`` (or a list
            of ``'key=value'`` strings per method, as ``--set``).
        dataset: a packaged dataset name whose per-dataset config entries apply (the
            published hyperparameters); ``None``: the methods' default configs.

    Returns:
        :class:`AutoResult`.

    Raises:
        ValueError: a bad range, an unknown or joint method, a ``k`` above the node count.
    """
    from pyagc.utils import set_seed
    logger = logger or logging.getLogger("pyagc.auto")
    check_scalar(seed, "seed", numbers.Integral, min_val=0)
    check_scalar(n_seeds, "n_seeds", numbers.Integral, min_val=1)
    check_scalar(silhouette_sample, "silhouette_sample", numbers.Integral, min_val=10)
    if sweep_dims is not None:
        check_scalar(sweep_dims, "sweep_dims", numbers.Integral, min_val=2)
    if budget is not None:
        check_scalar(budget, "budget", numbers.Real, min_val=0)
    ks = _parse_k_range(k_range)
    classes = _ordered_methods(methods)
    graph = as_data(data)
    graph = Data(x=getattr(graph, "x", None), edge_index=graph.edge_index,
                 num_nodes=graph.num_nodes)  # the tool never sees labels
    if max(ks) > graph.num_nodes:
        raise ValueError(f"k = {max(ks)} exceeds the {graph.num_nodes} nodes of the graph; "
                         "lower the top of the k range.")
    dev = resolve_device(device)
    start = time.perf_counter()
    candidates: List[Candidate] = []
    times: Dict[str, Dict[str, float]] = {}
    skipped: Dict[str, str] = {}
    for cls in classes:
        name = cls.__name__
        spent = time.perf_counter() - start
        if budget is not None and candidates and spent >= budget:
            skipped[name] = f"budget of {budget:g} s spent ({spent:.0f} s) before it started"
            logger.info("auto: %s skipped (budget).", name)
            continue
        if cls.needs_features and graph.x is None:
            skipped[name] = "needs node features; the graph has none"
            continue
        config = resolve_config(name, dataset, None, (overrides or {}).get(name))
        normalize = bool(config["cluster"].get("normalize_embeddings", True))
        # The config's restarts are shared out over the seeds: a k costs one usual KMeans.
        n_init = max(1, math.ceil(int(config["cluster"]["n_init"]) / n_seeds))
        t0 = time.perf_counter()
        # The first method always finishes; later ones stop when the budget runs out.
        limit = [_budget_callback(start, budget)] if candidates else []
        try:
            if cls.embedding_depends_on_k:
                found, t_embed = [], 0.0
                for k in ks:
                    set_seed(seed)
                    z, t = _embed(cls, graph, config, k, seed, dev, verbose, limit)
                    t_embed += t
                    found += sweep_k(z, graph.edge_index, [k], name, seed=seed,
                                     n_seeds=n_seeds, n_init=n_init,
                                     silhouette_sample=silhouette_sample, warm_start=False,
                                     normalize=normalize, max_dims=sweep_dims)
            else:
                set_seed(seed)
                z, t_embed = _embed(cls, graph, config, ks[0], seed, dev, verbose, limit)
                found = sweep_k(z, graph.edge_index, ks, name, seed=seed, n_seeds=n_seeds,
                                n_init=n_init,
                                silhouette_sample=silhouette_sample, warm_start=warm_start,
                                normalize=normalize, max_dims=sweep_dims)
        except _BudgetSpent as err:
            skipped[name] = str(err)
            logger.info("auto: %s %s.", name, err)
            continue
        except (RuntimeError, ValueError, FloatingPointError, MemoryError) as err:
            skipped[name] = f"failed: {err}"
            logger.warning("auto: %s failed: %s", name, err)
            continue
        candidates += found
        times[name] = {"embed": t_embed, "total": time.perf_counter() - t0}
        logger.info("auto: %s embedded in %.1f s, swept %d k in %.1f s.", name, t_embed,
                    len(ks), times[name]["total"] - t_embed)
    if not candidates:
        why = "; ".join(f"{m}: {r}" for m, r in skipped.items())
        hint = (" For a graph without node features, use methods that need none, e.g. "
                "--methods Node2Vec.") if graph.x is None else ""
        raise ValueError(f"auto has no candidate: every method was skipped or failed ({why})."
                         + hint)
    add_agreement(candidates, seed)
    choice, reason = choose(candidates)
    return AutoResult(candidates, choice, reason, times, skipped)


class _BudgetSpent(Exception):
    """Raised between two training epochs once the time budget is spent."""


def _budget_callback(start: float, budget: Optional[float]):
    def callback(stage: str, epoch: int, loss: float) -> None:
        if budget is not None and time.perf_counter() - start >= budget:
            raise _BudgetSpent(f"stopped in training ({stage} stage, epoch {epoch}): the "
                               f"budget of {budget:g} s was spent")
    return callback


def _embed(cls: type, graph: Data, config: Dict[str, Any], k: int, seed: int,
           device: torch.device, verbose: bool, callbacks: Sequence = ()
           ) -> Tuple[Tensor, float]:
    model, z, _, _, t_train, t_infer = fit_embedding(cls, graph, config, k, seed=seed,
                                                     device=device, verbose=verbose,
                                                     callbacks=list(callbacks))
    if not torch.isfinite(z).all():
        raise FloatingPointError("its embedding holds NaN or inf values")
    return z, t_train + t_infer
