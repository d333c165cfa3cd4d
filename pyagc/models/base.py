"""Base classes of every pyagc model (Encode-Cluster-Optimize).

* :class:`BaseModel` — anything that maps a graph to node embeddings (``embed``).
* :class:`TrainableModel` — a :class:`BaseModel` with a ``loss``; provides the full-batch
  and mini-batch training steps so that models never carry their own loop.
* :class:`ClusteringModel` — a :class:`TrainableModel` whose ``forward`` returns hard
  cluster labels (joint methods such as DMoN).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Iterable, Optional, Union

import torch
from torch import Tensor
from torch.nn import Module
from torch.optim import Optimizer
from torch_geometric.data import Data
from tqdm.auto import tqdm


class LossOutput:
    """A training loss: the ``total`` to back-propagate and named ``components`` to log.

    Example::

        >>> out = LossOutput(total=torch.tensor(1.5), components={'ali': 0.8, 'nei': 0.5})
        >>> out.log_string("Epoch 01: ")
        'Epoch 01: Loss: 1.5000, ALI: 0.8000, NEI: 0.5000'
    """

    def __init__(self, total: Tensor, components: Dict[str, float]) -> None:
        if not isinstance(total, Tensor):
            total = torch.as_tensor(total, dtype=torch.float)
        self.total = total
        self.components = {name: _as_float(value) for name, value in components.items()}

    def log_string(self, prefix: str = "") -> str:
        parts = [f"Loss: {float(self.total.detach()):.4f}"]
        parts += [f"{name.upper()}: {value:.4f}" for name, value in self.components.items()]
        return prefix + ", ".join(parts)

    def __repr__(self) -> str:
        return f"LossOutput({self.log_string()})"


def _as_float(value: Union[float, Tensor]) -> float:
    return float(value.detach()) if isinstance(value, Tensor) else float(value)


def _split_loss(out: Union[Tensor, LossOutput]) -> LossOutput:
    if isinstance(out, LossOutput):
        return out
    if isinstance(out, Tensor):
        return LossOutput(out, {})
    raise TypeError(f"loss() must return a Tensor or a LossOutput, got {type(out).__name__}.")


def _check_finite(loss: Tensor, epoch: int, where: str) -> None:
    if not torch.isfinite(loss.detach()).all():
        raise FloatingPointError(
            f"The training loss became {float(loss.detach())} at epoch {epoch} ({where}). "
            "Lower the learning rate, check the input features for extreme values, or enable "
            "gradient clipping.")


def _model_device(module: Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


class BaseModel(ABC, Module):
    """Interface of every pyagc model: :meth:`embed` returns node embeddings.

    ``infer_full`` runs on the whole graph, ``infer_batch`` over a neighbour loader and keeps
    only the seed nodes of each batch (the first ``batch.batch_size`` rows), so the result is
    aligned with the loader's input nodes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    @abstractmethod
    def embed(self, *args: Any, **kwargs: Any) -> Tensor:
        """Node embeddings, typically of shape ``[num_nodes, hidden]``."""

    def reset_parameters(self) -> None:
        for child in self.children():
            if hasattr(child, "reset_parameters"):
                child.reset_parameters()

    @property
    def device(self) -> torch.device:
        return _model_device(self)

    def _inputs(self, data: Data) -> Dict[str, Any]:
        """The keyword inputs taken from a :class:`Data` object (x, edge_index, edge_weight)."""
        inputs = {"x": data.x, "edge_index": data.edge_index}
        if getattr(data, "edge_weight", None) is not None:
            inputs["edge_weight"] = data.edge_weight
        return inputs

    def _infer(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.embed(*args, **kwargs)

    @torch.no_grad()
    def infer_full(self, data: Data) -> Any:
        was_training = self.training
        self.eval()
        try:
            data = data.to(self.device)
            return self._infer(**self._inputs(data))
        finally:
            self.train(was_training)

    @torch.no_grad()
    def infer_batch(self, loader: Iterable[Data], verbose: bool = True) -> Any:
        was_training = self.training
        self.eval()
        outputs = []
        try:
            for batch in tqdm(loader, desc="Inference", disable=not verbose, leave=False):
                batch = batch.to(self.device)
                out = self._infer(**self._inputs(batch))
                outputs.append(out[:batch.batch_size].cpu())
        finally:
            self.train(was_training)
        if not outputs:
            raise ValueError("infer_batch received an empty loader: give it at least one seed node.")
        return torch.cat(outputs, dim=0)


class TrainableModel(BaseModel):
    """A model trained by minimising :meth:`loss`.

    ``loss`` returns a scalar Tensor or a :class:`LossOutput`. ``train_full`` and
    ``train_batch`` run one epoch and raise :class:`FloatingPointError` naming the epoch when
    the loss stops being finite.
    """

    logger = None

    def set_logger(self, logger) -> None:
        self.logger = logger

    def _log(self, message: str, verbose: bool) -> None:
        if self.logger is not None:
            self.logger.info(message)
        elif verbose:
            print(message)

    @abstractmethod
    def loss(self, *args: Any, **kwargs: Any) -> Union[Tensor, LossOutput]:
        """The training loss."""

    def loss_batch(self, batch: Data, **kwargs: Any) -> Union[Tensor, LossOutput]:
        """Loss of one mini-batch; by default the full-graph loss on the sampled subgraph."""
        return self.loss(**self._inputs(batch), **kwargs)

    def _step(self, optimizer: Optimizer, out: Union[Tensor, LossOutput], epoch: int,
              where: str) -> LossOutput:
        out = _split_loss(out)
        _check_finite(out.total, epoch, where)
        optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        optimizer.step()
        return out

    def train_full(self, data: Data, optimizer: Optimizer, epoch: int, verbose: bool = True,
                   **loss_kwargs: Any) -> float:
        self.train()
        data = data.to(self.device)
        out = self._step(optimizer, self.loss(**self._inputs(data), **loss_kwargs), epoch,
                         "full batch")
        self._log(out.log_string(f"Epoch {epoch:03d}: "), verbose)
        return float(out.total.detach())

    def train_batch(self, loader: Iterable[Data], optimizer: Optimizer, epoch: int,
                    verbose: bool = True, **loss_kwargs: Any) -> float:
        return self._train_epoch(
            loader, lambda batch: self.loss_batch(batch.to(self.device), **loss_kwargs),
            optimizer, epoch, verbose)

    def _train_epoch(self, batches: Iterable[Any], batch_loss: Callable[[Any], Any],
                     optimizer: Optimizer, epoch: int, verbose: bool) -> float:
        """One optimiser step per item of ``batches`` (loss from ``batch_loss(item)``); logs and
        returns the epoch's mean loss. Shared by every mini-batch training loop."""
        self.train()
        total, count = 0.0, 0
        components: Dict[str, float] = {}
        for i, batch in enumerate(tqdm(batches, desc=f"Epoch {epoch:03d}", disable=not verbose,
                                       leave=False)):
            out = self._step(optimizer, batch_loss(batch), epoch, f"batch {i}")
            total += float(out.total.detach())
            count += 1
            for name, value in out.components.items():
                components[name] = components.get(name, 0.0) + value
        if count == 0:
            raise ValueError("The training loader is empty: give it at least one seed node.")
        mean = LossOutput(torch.tensor(total / count),
                          {name: value / count for name, value in components.items()})
        self._log(mean.log_string(f"Epoch {epoch:03d}: "), verbose)
        return total / count


class ClusteringModel(TrainableModel):
    """A jointly trained model whose :meth:`forward` returns hard cluster labels ``[num_nodes]``.

    Subclasses implement ``embed`` (embeddings), ``forward`` (labels) and ``loss``; they
    expose their cluster head as ``self.cluster_head`` with ``reset_cluster_centers`` when they
    support :meth:`initialize_cluster_centers`.
    """

    @abstractmethod
    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """Hard cluster assignments of shape ``[num_nodes]``."""

    def _infer(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.forward(*args, **kwargs)

    @torch.no_grad()
    def initialize_cluster_centers(self, data: Data, num_layers: int,
                                   train_idx: Optional[Tensor] = None, batch_size: int = 4096,
                                   fan_out: int = -1, method: str = "kmeans",
                                   verbose: bool = True) -> Tensor:
        """Set the cluster head's centres from KMeans on the current embeddings.

        Without ``train_idx`` the whole graph is embedded in one pass. With ``train_idx`` (the
        way to initialise on a graph too large for one pass) only those nodes are embedded, by
        mini-batch inference over ``num_layers``-hop neighbourhoods sampled with ``fan_out``
        neighbours per hop (``-1``: all), and clustered. KMeans is seeded from torch's global
        seed (``pyagc.utils.set_seed``).
        Returns the centres, shape ``[n_clusters, hidden]``.
        """
        if method != "kmeans":
            raise ValueError(f"Unknown initialisation method {method!r}; the supported one is 'kmeans'.")
        head = getattr(self, "cluster_head", None)
        if head is None or not hasattr(head, "reset_cluster_centers"):
            raise TypeError(f"{type(self).__name__} has no cluster head with centres to initialise.")
        was_training = self.training
        self.eval()
        try:
            if train_idx is None:
                z = self.embed(**self._inputs(data.to(self.device)))
            else:
                from pyagc.sampling import NeighborLoader
                loader = NeighborLoader(data, num_neighbors=[fan_out] * num_layers,
                                        input_nodes=train_idx, batch_size=batch_size)
                z = torch.cat([self.embed(**self._inputs(b.to(self.device)))[:b.batch_size]
                               for b in tqdm(loader, desc="Embedding", disable=not verbose,
                                             leave=False)])
        finally:
            self.train(was_training)
        from pyagc.clusters import TorchKMeans
        kmeans = TorchKMeans(n_clusters=head.n_clusters, n_init=10,
                             random_state=int(torch.initial_seed() % (2 ** 31)))
        kmeans.fit_predict(z.detach())
        centers = kmeans.cluster_centers_.to(z.device)
        head.reset_cluster_centers(centers)
        return centers


def check_finite_loss(loss: Tensor, epoch: int) -> None:
    """Raise a clear error when ``loss`` is NaN or infinite (for custom training loops)."""
    _check_finite(loss, epoch, "custom step")


__all__ = ["LossOutput", "BaseModel", "TrainableModel", "ClusteringModel", "check_finite_loss"]
