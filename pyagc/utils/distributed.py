"""The ``torch.distributed`` plumbing of pyagc, in one place.

pyagc scales out with PyTorch's own :mod:`torch.distributed` (launched by ``torchrun``; gloo on
CPU, NCCL on GPU). Every process holds the whole graph; what is split between the processes
("ranks") is work: the seed nodes of each training epoch (:class:`EpochShardSampler`), the rows
inferred (:func:`row_block`), the rows KMeans assigns, the edges a structure metric counts.
The helpers below are no-ops in a single process (no process group), so the same code runs
with and without ``torchrun``.

Every collective goes through :func:`collective`, which turns the backend's error when a peer
process died (connection closed, or no answer within the group's timeout) into one
:class:`DistributedError` saying so; :func:`init_distributed` sets that timeout
(``PYAGC_DIST_TIMEOUT`` seconds, default :data:`DEFAULT_TIMEOUT_S`), so a job whose rank died
ends with an error instead of hanging.
"""
from __future__ import annotations

import numbers
import os
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator, List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DistributedSampler

from pyagc.utils.validation import check_scalar

#: Seconds a collective waits for the other processes before the job fails (not hangs).
DEFAULT_TIMEOUT_S = 300.0


class DistributedError(RuntimeError):
    """A distributed run cannot go on: a peer process died or stopped answering, or the
    process group is missing or inconsistent."""


def is_distributed() -> bool:
    """Whether this process is part of an initialised ``torch.distributed`` process group."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """The number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Whether this is rank 0, the process that writes files and prints."""
    return get_rank() == 0


def timeout_seconds() -> float:
    """The collective timeout: ``$PYAGC_DIST_TIMEOUT`` seconds or :data:`DEFAULT_TIMEOUT_S`."""
    value = os.environ.get("PYAGC_DIST_TIMEOUT")
    if value is None:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise DistributedError(f"PYAGC_DIST_TIMEOUT must be a positive number of seconds, got "
                               f"{value!r}.")
    return seconds


def init_distributed(device: Optional[torch.device] = None, backend: Optional[str] = None,
                     init_method: Optional[str] = None, rank: Optional[int] = None,
                     world_size: Optional[int] = None) -> bool:
    """Join the process group; returns whether this call created it (``False``: it existed).

    Without arguments the group is the one ``torchrun`` describes in the environment
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``). The backend is NCCL for a
    CUDA ``device`` (which also selects ``cuda:LOCAL_RANK``) and gloo otherwise. The timeout of
    every collective is :func:`timeout_seconds`.

    Raises:
        DistributedError: no process group is described (the script was not started by
            ``torchrun``), or ``torch.distributed`` is not available in this build.
    """
    if is_distributed():
        return False
    if not dist.is_available():
        raise DistributedError("This PyTorch build has no torch.distributed; run without "
                               "--distributed.")
    if init_method is None and ("RANK" not in os.environ or "WORLD_SIZE" not in os.environ):
        raise DistributedError(
            "--distributed needs the process group that torchrun describes (RANK, WORLD_SIZE, "
            "MASTER_ADDR, MASTER_PORT are not set): launch with "
            "'torchrun --nproc_per_node=N -m pyagc run ... --distributed'.")
    cuda = device is not None and torch.device(device).type == "cuda"
    backend = backend or ("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    kwargs = {}
    if init_method is not None:
        check_scalar(world_size, "world_size", numbers.Integral, min_val=1)
        check_scalar(rank, "rank", numbers.Integral, min_val=0, max_val=world_size - 1)
        kwargs = {"init_method": init_method, "rank": int(rank), "world_size": int(world_size)}
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_seconds()), **kwargs)
    return True


def shutdown() -> None:
    """Leave the process group (nothing without one)."""
    if is_distributed():
        dist.destroy_process_group()


@contextmanager
def collective(what: str) -> Iterator[None]:
    """Run a collective; a backend failure becomes one :class:`DistributedError` that says a
    peer process stopped (crashed, was killed, or did not answer within the timeout)."""
    try:
        yield
    except DistributedError:
        raise
    except RuntimeError as err:  # DistBackendError / DistNetworkError derive from it
        raise DistributedError(
            f"Rank {get_rank()}: the collective '{what}' failed: another process of the job "
            f"stopped (crashed, was killed, or did not answer within {timeout_seconds():g} s; "
            f"set PYAGC_DIST_TIMEOUT to change). Its own error says why. Backend message: "
            f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from err


def _comm_device() -> torch.device:
    """Where collective tensors must live: the current CUDA device for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce(tensor: Tensor, op: str = "sum", what: str = "all_reduce") -> Tensor:
    """The element-wise ``op`` (``'sum'``, ``'max'`` or ``'min'``) of ``tensor`` over all ranks,
    as a new tensor on ``tensor``'s device; ``tensor`` itself without a process group."""
    if not is_distributed():
        return tensor
    ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
    buf = tensor.detach().to(_comm_device(), copy=True).contiguous()
    with collective(what):
        dist.all_reduce(buf, op=ops[op])
    return buf.to(tensor.device)


def broadcast(tensor: Tensor, src: int = 0, what: str = "broadcast") -> Tensor:
    """Rank ``src``'s ``tensor`` on every rank (same shape and dtype everywhere)."""
    if not is_distributed():
        return tensor
    buf = tensor.detach().to(_comm_device(), copy=True).contiguous()
    with collective(what):
        dist.broadcast(buf, src=src)
    return buf.to(tensor.device)


def broadcast_object(obj: Any, src: int = 0, what: str = "broadcast") -> Any:
    """Rank ``src``'s picklable ``obj`` on every rank (for small things: a record, a path)."""
    if not is_distributed():
        return obj
    box = [obj]
    with collective(what):
        dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_rows(tensor: Tensor, what: str = "all_gather") -> Tensor:
    """The row blocks of every rank concatenated in rank order (the blocks may have different
    numbers of rows; the other dimensions and the dtype must agree)."""
    if not is_distributed():
        return tensor
    world = get_world_size()
    device = _comm_device()
    sizes = gather_ints(tensor.size(0), what=f"{what} (sizes)")
    local = _pad_rows(tensor.detach().to(device).contiguous(), max(sizes))
    parts = [torch.empty_like(local) for _ in range(world)]
    with collective(what):
        dist.all_gather(parts, local)
    return torch.cat([p[:n] for p, n in zip(parts, sizes)], dim=0).to(tensor.device)


def gather_rows(tensor: Tensor, dst: int = 0, what: str = "gather") -> Optional[Tensor]:
    """Like :func:`all_gather_rows`, but only rank ``dst`` receives the concatenation (the
    others get ``None``): for what only rank 0 uses (the embedding it writes), without every
    rank holding every row."""
    if not is_distributed():
        return tensor
    world, rank = get_world_size(), get_rank()
    device = _comm_device()
    sizes = gather_ints(tensor.size(0), what=f"{what} (sizes)")
    local = _pad_rows(tensor.detach().to(device).contiguous(), max(sizes))
    parts = [torch.empty_like(local) for _ in range(world)] if rank == dst else None
    with collective(what):
        dist.gather(local, parts, dst=dst)
    if rank != dst:
        return None
    return torch.cat([p[:n] for p, n in zip(parts, sizes)], dim=0).to(tensor.device)


def _pad_rows(tensor: Tensor, rows: int) -> Tensor:
    if tensor.size(0) >= rows:
        return tensor
    pad = tensor.new_zeros((rows - tensor.size(0),) + tuple(tensor.shape[1:]))
    return torch.cat([tensor, pad], dim=0)


def gather_ints(value: int, what: str = "all_gather") -> List[int]:
    """Each rank's integer ``value`` gathered in rank order (one entry per rank)."""
    if not is_distributed():
        return [int(value)]
    world, rank = get_world_size(), get_rank()
    buf = torch.zeros(world, dtype=torch.long)
    buf[rank] = int(value)
    return [int(v) for v in all_reduce(buf, what=what)]


def row_block(n: int, rank: Optional[int] = None, world_size: Optional[int] = None
              ) -> Tuple[int, int]:
    """``(start, end)`` of rank ``rank``'s contiguous block when ``n`` rows are split as evenly
    as possible over ``world_size`` ranks (the current ones by default)."""
    world = get_world_size() if world_size is None else \
        int(check_scalar(world_size, "world_size", numbers.Integral, min_val=1))
    rank = get_rank() if rank is None else \
        int(check_scalar(rank, "rank", numbers.Integral, min_val=0, max_val=world - 1))
    n = int(check_scalar(n, "n", numbers.Integral, min_val=0))
    return n * rank // world, n * (rank + 1) // world


class EpochShardSampler(DistributedSampler):
    """This rank's share of one shared, seeded permutation of ``range(n)``, a new permutation
    every epoch (every ``iter``).

    :class:`torch.utils.data.DistributedSampler` with the epoch advanced by each pass (no
    ``set_epoch`` to forget): epoch ``e`` permutes with the seed ``seed + e`` on every rank,
    pads the permutation by repeating its start to a multiple of ``world_size``, and rank
    ``r`` takes every ``world_size``-th entry from ``r``. So the shards are disjoint (up to
    the at most ``world_size - 1`` repeated seeds), cover every node each epoch, and every
    rank has ``ceil(n / world_size)`` seeds — the same number of batches, so no rank waits
    in a collective for a batch that never comes.
    """

    def __init__(self, n: int, rank: int, world_size: int, seed: int = 0) -> None:
        check_scalar(n, "n", numbers.Integral, min_val=1)
        check_scalar(world_size, "world_size", numbers.Integral, min_val=1)
        check_scalar(rank, "rank", numbers.Integral, min_val=0, max_val=world_size - 1)
        check_scalar(seed, "seed", numbers.Integral, min_val=0)
        super().__init__(range(int(n)), num_replicas=int(world_size), rank=int(rank),
                         shuffle=True, seed=int(seed), drop_last=False)

    def __iter__(self):
        indices = list(super().__iter__())
        self.epoch += 1
        return iter(indices)


__all__ = ["DEFAULT_TIMEOUT_S", "DistributedError", "EpochShardSampler", "all_gather_rows",
           "all_reduce", "broadcast", "broadcast_object", "collective", "gather_ints", "gather_rows", "get_rank",
           "get_world_size", "init_distributed", "is_distributed", "is_main_process",
           "row_block", "shutdown", "timeout_seconds"]
