"""The one training recipe every trainable method goes through.

For each stage of ``train`` (one stage, or e.g. ``pretrain`` then ``finetune``):
build the optimizer (``lr``, ``weight_decay``), optionally initialise the model's cluster
centres from KMeans (``init_clusters``), then run up to ``epochs`` epochs of
``model.fit_epoch`` over what ``model.train_loader`` gives (the whole graph, a
:class:`pyagc.sampling.NeighborLoader` with ``--mini-batch``: ``fan_out`` per hop,
``batch_size`` seeds, or a model's own walk/pair loader) — stopping early when
the loss has not improved for ``patience`` epochs, and finally restoring the weights reached
at the end of the lowest-loss epoch (``restore_best``). Checkpoints of the best and last state are written atomically,
and an interrupted run continues from its last checkpoint.
"""
from __future__ import annotations

import contextlib
import copy
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import torch
from torch import Tensor
from torch_geometric.data import Data
from tqdm.auto import tqdm

from pyagc.encoders import layerwise_inference
from pyagc.models import TrainableModel
from pyagc.runner.checkpoint import CheckpointManager
from pyagc.runner.config import training_stages
from pyagc.runner.distributed import data_parallel, mean_over_ranks
from pyagc.utils import distributed as dist_utils

EpochCallback = Callable[[str, int, float], None]


@dataclass
class TrainState:
    """Where training stands; saved in the ``last`` checkpoint."""

    stage_index: int = 0
    epoch: int = 0                 # last completed epoch of the current stage
    best_loss: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    history: List[Dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        return {"stage_index": self.stage_index, "epoch": self.epoch,
                "best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs, "history": self.history}


#: Parameter count from which Adam runs its fused kernel. The default (foreach) step allocates
#: two parameter-sized temporaries: on a 1 GB parameter +1.9 GB peak and 1.65 s against 0 GB
#: and 0.53 s fused (one thread). Smaller models keep the default, whose rounding differs from
#: the fused kernel's in the last bit, so their training curves stay as measured.
FUSED_ADAM_MIN_PARAMS = 1 << 26


def _fused_adam(params: List[Tensor]) -> bool:
    return (sum(p.numel() for p in params) >= FUSED_ADAM_MIN_PARAMS
            and all(p.dtype.is_floating_point and p.device.type in ("cpu", "cuda")
                    for p in params))


def make_optimizer(params, stage: Dict[str, Any], lr: Optional[float] = None,
                   what: str = "model") -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError(f"The {what} has no trainable parameters, so the {stage['name']} "
                         "stage cannot run; set its epochs to 0.")
    lr = stage["lr"] if lr is None else lr
    name = str(stage.get("optimizer") or "adam").lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=stage["weight_decay"],
                                fused=_fused_adam(params) or None)
    if name == "sparse_adam":
        return torch.optim.SparseAdam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=stage["weight_decay"])
    raise ValueError(f"Unknown optimizer {name!r} in stage {stage['name']}: use adam, "
                     "sparse_adam or sgd.")


def make_optimizers(model: TrainableModel, stage: Dict[str, Any],
                    train_cfg: Dict[str, Any]) -> Dict[str, torch.optim.Optimizer]:
    """One optimizer per :meth:`~pyagc.models.TrainableModel.param_groups` entry; group ``g``
    uses ``train.<g>_lr`` when the config sets it."""
    return {name: make_optimizer(params, stage, train_cfg.get(f"{name}_lr"), what=name)
            for name, params in model.param_groups().items()}


def _state_copy(model: torch.nn.Module) -> Dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def train_model(model: TrainableModel, data: Data, config: Dict[str, Any],
                *, mini_batch: bool = False, seed: int = 0,
                checkpoints: Optional[CheckpointManager] = None, resume: bool = False,
                logger: Optional[logging.Logger] = None, verbose: bool = True,
                callbacks: Optional[List[EpochCallback]] = None,
                distributed: bool = False) -> TrainState:
    """Train ``model`` following ``config['train']``; returns the final :class:`TrainState`
    (``history`` is the loss curve: one ``{stage, epoch, loss}`` per epoch, plus
    ``components``, the named :class:`~pyagc.models.LossOutput` parts, when the loss has any).

    ``distributed`` (inside a process group, every rank calling this with the same graph and
    config): each epoch iterates over this rank's share of the seed nodes, the batch losses
    run through ``DistributedDataParallel`` (gradients averaged over the ranks), the epoch
    loss is the mean over the ranks (so early stopping agrees), and only rank 0 writes
    checkpoints (every rank reads them to resume)."""
    logger = logger or logging.getLogger("pyagc.runner")
    train_cfg = config["train"]
    stages = training_stages(train_cfg)
    model.set_logger(logger)

    shard = (dist_utils.get_rank(), dist_utils.get_world_size()) if distributed else None
    writes = checkpoints is not None and (not distributed or dist_utils.is_main_process())
    state = TrainState()
    resume_ckpt = checkpoints.load("last") if (resume and checkpoints is not None) else None
    if resume_ckpt is not None:
        try:
            state = TrainState(**resume_ckpt["train_state"])
            model.load_state_dict(resume_ckpt["model"])
        except (TypeError, RuntimeError) as err:  # foreign keys, or another model's weights
            raise ValueError(f"Checkpoint {checkpoints.path('last')} does not fit this run "
                             f"({type(err).__name__}); delete it to start the run afresh."
                             ) from None
        logger.info("Resuming from stage %d epoch %d.", state.stage_index, state.epoch)

    for stage_index, stage in enumerate(stages):
        if stage_index < state.stage_index:
            continue
        resuming_stage = resume_ckpt is not None and stage_index == state.stage_index \
            and state.epoch > 0
        if not resuming_stage:
            state.stage_index, state.epoch = stage_index, 0
            state.best_loss, state.best_epoch, state.bad_epochs = float("inf"), 0, 0
        if stage["epochs"] == 0:
            continue
        optimizers = make_optimizers(model, stage, train_cfg)
        best_state = None
        if resuming_stage:
            for name, opt in optimizers.items():
                opt.load_state_dict(resume_ckpt["optimizers"][name])
            if "rng" in resume_ckpt:
                torch.set_rng_state(resume_ckpt["rng"])
            model.set_random_state(resume_ckpt.get("model_rng", {}))
            best = checkpoints.load("best") if checkpoints is not None else None
            if best is not None and best.get("stage_index") == stage_index:
                best_state = best["model"]
        elif stage.get("init_clusters"):
            _init_clusters(model, data, config, mini_batch, verbose)

        extra = {"shard": shard} if shard is not None else {}
        loader = model.train_loader(data, mini_batch=mini_batch,
                                    batch_size=train_cfg["batch_size"],
                                    fan_out=train_cfg["fan_out"],
                                    seed=seed * 1_000_003 + state.epoch, **extra)
        loss_kwargs = dict(stage.get("loss_kwargs") or {})
        logger.info("Stage %s: %d epochs, lr=%g, weight_decay=%g, patience=%s.", stage["name"],
                    stage["epochs"], stage["lr"], stage["weight_decay"], stage["patience"])

        bar = tqdm(range(state.epoch + 1, stage["epochs"] + 1), desc=f"{stage['name']}",
                   disable=not verbose, leave=False, unit="epoch")
        with data_parallel(model) if distributed else contextlib.nullcontext():
            for epoch in bar:
                model.epoch_components = {}
                loss = float(model.fit_epoch(loader, optimizers, epoch, verbose=verbose,
                                             **loss_kwargs))
                if distributed:
                    loss = mean_over_ranks(loss)
                state.epoch = epoch
                row = {"stage": stage["name"], "epoch": epoch, "loss": loss}
                if model.epoch_components:
                    row["components"] = {
                        name: mean_over_ranks(value) if distributed else value
                        for name, value in sorted(model.epoch_components.items())}
                state.history.append(row)
                bar.set_postfix(loss=f"{loss:.4f}")
                improved = loss < state.best_loss - float(stage["min_delta"] or 0.0)
                if improved:
                    state.best_loss, state.best_epoch, state.bad_epochs = loss, epoch, 0
                    if stage.get("restore_best", True) or checkpoints is not None:
                        best_state = _state_copy(model)
                else:
                    state.bad_epochs += 1
                stop = bool(stage["patience"]) and state.bad_epochs >= int(stage["patience"])
                if writes and (epoch % int(train_cfg["checkpoint_every"]) == 0
                               or stop or epoch == stage["epochs"]):
                    _save(checkpoints, model, optimizers, state, best_state, stage_index)
                for callback in callbacks or ():
                    try:
                        callback(stage["name"], epoch, loss)
                    except KeyboardInterrupt:
                        # Between two epochs the state is consistent: keep it for --resume.
                        if writes:
                            _save(checkpoints, model, optimizers, state, best_state,
                                  stage_index)
                        raise
                if stop:
                    logger.info("Early stop in stage %s at epoch %d (best loss %.4f at epoch "
                                "%d).", stage["name"], epoch, state.best_loss, state.best_epoch)
                    break
        bar.close()
        if stage.get("restore_best", True) and best_state is not None:
            model.load_state_dict(best_state)
            logger.info("Stage %s: restored the best weights (epoch %d, loss %.4f).",
                        stage["name"], state.best_epoch, state.best_loss)
        state.stage_index, state.epoch = stage_index + 1, 0
        if writes:
            _save(checkpoints, model, optimizers, state, None, stage_index + 1)
    return state


def _save(checkpoints: CheckpointManager, model, optimizers, state: TrainState,
          best_state: Optional[Dict[str, Tensor]], stage_index: int) -> None:
    checkpoints.save("last", {"model": _state_copy(model),
                              "optimizers": {name: opt.state_dict()
                                             for name, opt in optimizers.items()},
                              "train_state": copy.deepcopy(state.as_dict()),
                              "rng": torch.get_rng_state(),
                              "model_rng": model.random_state()})
    if best_state is not None:
        checkpoints.save("best", {"model": best_state, "stage_index": stage_index,
                                  "epoch": state.best_epoch, "loss": state.best_loss})


def uses_layerwise_inference(train_cfg: Dict[str, Any]) -> bool:
    """Whether mini-batch inference embeds the whole graph layer by layer
    (``train.layerwise_batch_size`` set and full neighbourhoods, ``inference_fan_out`` -1)
    rather than over a neighbour loader: exact, and ``num_layers`` passes over the graph."""
    fan_out = train_cfg["inference_fan_out"]
    full = all(f == -1 for f in fan_out) if isinstance(fan_out, list) else fan_out == -1
    return train_cfg.get("layerwise_batch_size") is not None and full


def _init_clusters(model, data: Data, config: Dict[str, Any], mini_batch: bool,
                   verbose: bool) -> None:
    if not hasattr(model, "initialize_cluster_centers"):
        raise ValueError(f"{type(model).__name__} cannot initialise cluster centres, so "
                         "init_clusters must stay false for its stages.")
    train_cfg = config["train"]
    layerwise = mini_batch and uses_layerwise_inference(train_cfg)
    train_idx = torch.arange(data.num_nodes) if mini_batch and not layerwise else None
    fan_out = train_cfg["inference_fan_out"]
    with layerwise_inference(model, train_cfg["layerwise_batch_size"], enabled=layerwise):
        model.initialize_cluster_centers(data, num_layers=model.num_hops, train_idx=train_idx,
                                         batch_size=train_cfg["inference_batch_size"],
                                         fan_out=fan_out if isinstance(fan_out, int) else -1,
                                         verbose=verbose)
