"""What the runner does differently when it runs on several processes (``--distributed``).

The process-group plumbing (ranks, collectives, timeouts, the seed shards) lives in
:mod:`pyagc.utils.distributed`; here are the runner's pieces: the
``DistributedDataParallel`` wrapper of a model's batch loss, the refusal of models that
cannot be split, and the sharded inference / clustering / scoring helpers.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional, Tuple, Type

import torch
from torch import Tensor
from torch.nn import Module
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.data import Data

from pyagc.models import BaseModel, TrainableModel
from pyagc.models.base import LossOutput
from pyagc.utils import distributed as dist_utils


class _BatchLoss(Module):
    """``model.loss_batch`` as a module's forward, the call ``DistributedDataParallel``
    needs to see to average the gradients of the backward pass that follows."""

    def __init__(self, model: TrainableModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Data, **loss_kwargs: Any) -> Tuple[Tensor, LossOutput]:
        # The caller must back-propagate the returned tensor (not ``out.total``): DDP hooks
        # its averaging onto the tensors of the forward's output.
        out = self.model.loss_batch(batch, **loss_kwargs)
        if not isinstance(out, LossOutput):
            out = LossOutput(out, {})
        return out.total, out


@contextmanager
def data_parallel(model: TrainableModel) -> Iterator[Optional[DistributedDataParallel]]:
    """Within the block, the model's mini-batch losses run through
    ``DistributedDataParallel`` (gradients averaged over all ranks at each backward pass);
    nothing changes without a process group.

    Building the wrapper broadcasts rank 0's parameters and buffers, so the ranks start from
    the same weights (e.g. after each rank initialised cluster centres).
    ``static_graph``: the loss of a stage reads the same parameters at every batch, which lets
    DDP find, once, those a stage leaves out (a cluster head during pre-training) instead of
    searching the autograd graph at every step (``find_unused_parameters``).
    """
    if not dist_utils.is_distributed():
        yield None
        return
    device = model.device
    with dist_utils.collective("DistributedDataParallel setup"):
        ddp = DistributedDataParallel(
            _BatchLoss(model), device_ids=[device] if device.type == "cuda" else None,
            static_graph=True)
    # Set on the instance's __dict__ (not as a submodule: the wrapper holds the model).
    object.__setattr__(model, "_data_parallel", ddp)
    try:
        yield ddp
    finally:
        model.__dict__.pop("_data_parallel", None)


def check_distributed(cls: Type[BaseModel], mini_batch: bool) -> None:
    """Refuse, with the reason and the fix, a distributed run that cannot be split.

    A trainable model must train on mini-batches (full-batch training has nothing to split)
    and keep the default training steps
    (:meth:`~pyagc.models.TrainableModel.distributed_refusal`). A model without training runs
    as it is: each process computes the embedding, the KMeans is split.

    Raises:
        ValueError: a trainable model without ``mini_batch``, or one whose
            :meth:`~pyagc.models.BaseModel.distributed_refusal` gives a reason.
    """
    reason = cls.distributed_refusal()
    if reason is not None:
        raise ValueError(f"{cls.__name__} cannot train with --distributed: {reason}. Run it "
                         "in one process (without --distributed).")
    if issubclass(cls, TrainableModel) and not mini_batch:
        raise ValueError(f"--distributed splits the seed nodes of {cls.__name__}'s mini-batch "
                         "training between the processes: add --mini-batch.")


def mean_over_ranks(value: float) -> float:
    """The mean of a number over the ranks (an epoch's loss, so that every rank takes the
    same early-stopping decision)."""
    if not dist_utils.is_distributed():
        return value
    total = dist_utils.all_reduce(torch.tensor([float(value)], dtype=torch.float64),
                                  what="epoch loss")
    return float(total) / dist_utils.get_world_size()


def node_block(data: Data) -> Tensor:
    """The node ids of this rank's contiguous block (all nodes in one process)."""
    start, end = dist_utils.row_block(int(data.num_nodes))
    return torch.arange(start, end)


def edges_of_block(data: Data) -> Tensor:
    """The edges whose source node is in this rank's block: the ranks' shares make up the
    graph (for structure metrics summed over ranks)."""
    start, end = dist_utils.row_block(int(data.num_nodes))
    src = data.edge_index[0]
    return data.edge_index[:, (src >= start) & (src < end)]
