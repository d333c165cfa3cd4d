"""Shared machinery of the two-view self-supervised methods (CCA-SSG, G-BT, NS4GC).

Each of them trains one shared encoder :math:`f` on two augmented views
:math:`(\\mathbf{X}^{(k)}, \\mathbf{A}^{(k)}) = t_k(\\mathbf{X}, \\mathbf{A})`, ``k = 1, 2``,
of the graph, :math:`\\mathbf{H}^{(k)} = f(\\mathbf{X}^{(k)}, \\mathbf{A}^{(k)})`, with a
loss on the pair :math:`(\\mathbf{H}^{(1)}, \\mathbf{H}^{(2)})`; the clustering step sees the
encoder on the clean graph (:meth:`TwoViewModel.embed`). A subclass only states its
``objective``.

Mini-batch (:meth:`TwoViewModel.loss_batch`): both views are drawn on the sampled subgraph
(edge dropping keeps the nodes and their order), the objective sees the rows of the seed
nodes only (the first ``batch.batch_size`` rows, as :class:`~pyagc.sampling.NeighborLoader`
orders them), with the sampled edges whose two ends are seeds, and so the encoder runs with
per-hop trimming (:meth:`~pyagc.encoders.TunedGNN.forward`): each layer computes only the
rows the seeds depend on. The seed rows are those of the untrimmed pass; batch-norm layers
(the Products configurations) take their statistics over the rows computed (seeds and the
hops below the last) instead of every sampled node. Measured at the Products
configurations (16,384 seeds, 2-layer encoders, fan-out 10): computing every sampled node in
both layers cost NS4GC 13.7 s and CCASSG 12.7 s per step on a 200,000-node Products-like
graph, against 1.9 s and 2.8 s trimmed (``benchmarks/bench_batch_cost.py``, with NS4GC's
sparse sampled term); on the Products-sized graph 49 s and 45 s per batch before, 3.4 s and
5.0 s now (``benchmarks/bench_products_deep.py``, whole epochs).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Data
from torch_geometric.nn.inits import reset

from pyagc.models.base import LossOutput, TrainableModel
from pyagc.ops.encoder_inputs import first_rows, to_sparse_features
from pyagc.utils.cache import TensorCache

__all__ = ["TwoViewModel", "standardize_columns", "VIEW_KEYS"]

#: The config keys (``model`` section) of the two views' augmentations, with their defaults
#: (those of :class:`~pyagc.transforms.GSSLTransform`).
VIEW_KEYS: Dict[str, float] = {"p_feat_mask_1": 0.5, "p_edge_drop_1": 0.5,
                               "p_feat_mask_2": 0.5, "p_edge_drop_2": 0.5}


class _StandardizeColumns(torch.autograd.Function):
    r"""``u * scale`` with :math:`u = (h - \mu) / \sqrt{\operatorname{var} + \epsilon}` per
    column (``var`` the sum of squared deviations over ``N - ddof``), and its exact gradient
    in closed form,

    .. math:: \frac{\partial L}{\partial h} = \frac{\text{scale}}{\sigma_\epsilon}\Bigl(g -
        \bar g - \tfrac{N}{N - \text{ddof}}\,u\,\overline{g \odot u}\Bigr), \qquad
        g = \frac{\partial L}{\partial (u \cdot \text{scale})},

    (bars: column means): a handful of ``[N, D]`` passes instead of autograd's graph of
    centring, squaring, averaging and dividing."""

    @staticmethod
    def forward(ctx, h: Tensor, eps: float, scale: float, ddof: int) -> Tensor:
        centred = h - h.mean(dim=0, keepdim=True)
        var = centred.pow(2).sum(dim=0, keepdim=True).div_(h.size(0) - ddof)
        rstd = torch.rsqrt(var.add_(eps))
        out = centred.mul_(rstd * scale)
        ctx.save_for_backward(out, rstd)
        ctx.scale = scale
        ctx.ratio = h.size(0) / (h.size(0) - ddof)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        out, rstd = ctx.saved_tensors
        scale = ctx.scale
        # With u = out / scale: (grad - mean(grad) - u mean(grad * u)) * rstd * scale.
        coef = (grad * out).mean(dim=0, keepdim=True).mul_(ctx.ratio / (scale * scale))
        result = grad - grad.mean(dim=0, keepdim=True)
        result.sub_(out * coef).mul_(rstd * scale)
        return result, None, None, None


def standardize_columns(h: Tensor, eps: float = 1e-8, scale: float = 1.0,
                        unbiased: bool = False) -> Tensor:
    r"""Column standardisation :math:`(\mathbf{h}_{:,d} - \mu_d) / \sigma_d`, times ``scale``,
    ``eps`` added to the variance. :math:`\sigma_d` is the population standard deviation
    (each column gets mean 0 and mean square 1 before scaling), or with ``unbiased=True`` the
    sample one (denominator ``N - 1``, as ``torch.std``). Shape ``[N, D] -> [N, D]``;
    differentiable, with a closed-form backward pass."""
    return _StandardizeColumns.apply(h, float(eps), float(scale), int(bool(unbiased)))


def _generators_of(transform: Any) -> List[torch.Generator]:
    """The ``torch.Generator`` s a transform (or its sub-transforms, one level down) draws
    from, e.g. the shared stream of a seeded :class:`~pyagc.transforms.GSSLTransform`."""
    found: List[torch.Generator] = []
    values = list(vars(transform).values()) if hasattr(transform, "__dict__") else []
    for value in list(values):
        if hasattr(value, "__dict__") and not isinstance(value, (Tensor, Module)):
            values.extend(vars(value).values())
    for value in values:
        if isinstance(value, torch.Generator) and all(value is not g for g in found):
            found.append(value)
    return found


def _masks_x_only(transform: Any) -> bool:
    """Whether ``transform`` is a plain GSSLTransform whose feature step masks ``x`` only."""
    from pyagc.transforms import GSSLTransform
    return type(transform) is GSSLTransform and list(transform.mask_feat.node_attrs) == ["x"]


class TwoViewModel(TrainableModel):
    """Base of the two-view methods: encoder + two view transforms; see the module docstring.

    Args:
        encoder: maps ``(x [N, F], edge_index [2, E], edge_weight=None)`` to ``[N, D]``.
        transform1, transform2: callables ``Data -> Data`` giving the two views (typically
            :class:`~pyagc.transforms.GSSLTransform`); they draw their own randomness.
            The ``torch.Generator`` s of seeded transforms are tracked by the model:
            :meth:`reset_parameters` restarts them and checkpoints save their state.
    """

    family = "deep-decoupled"
    supports_mini_batch = True

    def __init__(self, encoder: Module, transform1: Any, transform2: Any) -> None:
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}.")
        for name, transform in (("transform1", transform1), ("transform2", transform2)):
            if not callable(transform):
                raise TypeError(f"{name} must be a callable Data -> Data (e.g. a "
                                f"GSSLTransform), got {type(transform).__name__}.")
        self.encoder = encoder
        self.transform1 = transform1
        self.transform2 = transform2
        generators: List[torch.Generator] = []
        for transform in (transform1, transform2):
            for gen in _generators_of(transform):
                if all(gen is not g for g in generators):
                    generators.append(gen)
        # Plain attributes, so that BaseModel.random_state() finds and saves them.
        for k, gen in enumerate(generators):
            setattr(self, f"_view_rng_{k}", gen)
        self._view_rng_initial = [gen.get_state() for gen in generators]
        self._csr_cache = TensorCache(to_sparse_features)

    # ------------------------------------------------------------------ parameters
    def reset_parameters(self) -> None:
        reset(self.encoder)
        for k, state in enumerate(getattr(self, "_view_rng_initial", ())):
            getattr(self, f"_view_rng_{k}").set_state(state)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], data: Data, n_clusters: int, *,
                    seed: Optional[int] = None) -> "TwoViewModel":
        """Build from the ``model`` section: ``encoder`` (for
        :func:`~pyagc.encoders.create_tuned_gnn`), the two views' ``p_feat_mask_k`` /
        ``p_edge_drop_k`` (``k = 1, 2``; each a :class:`~pyagc.transforms.GSSLTransform`),
        ``feat_mask_mode`` (``'entry'``, default, or ``'column'``; both views) and the loss
        weights. With a run ``seed`` the views get their own streams (seeds
        ``2 seed + 1`` and ``2 seed + 2``), else torch's global RNG."""
        from pyagc.transforms import GSSLTransform
        kwargs = dict(cfg)
        probs = {key: kwargs.pop(key, default) for key, default in VIEW_KEYS.items()}
        mask_mode = kwargs.pop("feat_mask_mode", "entry")
        for k in (1, 2):
            if f"transform{k}" not in kwargs:
                view_seed = None if seed is None else 2 * int(seed) + k
                try:
                    kwargs[f"transform{k}"] = GSSLTransform(
                        p_feat_mask=probs[f"p_feat_mask_{k}"],
                        p_edge_drop=probs[f"p_edge_drop_{k}"], seed=view_seed,
                        feat_mask_mode=mask_mode)
                except (TypeError, ValueError) as err:
                    from pyagc.utils.validation import ConfigError
                    raise ConfigError(f"Bad view settings for {cls.__name__} (model."
                                      f"p_feat_mask_{k} / p_edge_drop_{k}): {err}") from None
        return super().from_config(kwargs, data, n_clusters, seed=seed)

    # ------------------------------------------------------------------ encoding
    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
              **kwargs: Any) -> Tensor:
        """The encoder on the given (clean) graph, ``[N, D]``."""
        if edge_weight is not None:
            kwargs["edge_weight"] = edge_weight
        return self.encoder(x, edge_index, **kwargs)

    def views(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None
              ) -> Tuple[Data, Data]:
        """The two augmented views of the graph, as :class:`Data` objects.

        Fast path: when the encoder would turn bag-of-words features into CSR anyway (a
        :class:`~pyagc.encoders.TunedGCN` with ``sparse_inputs='auto'`` and no
        ``pre_linear``) and a view is a plain :class:`~pyagc.transforms.GSSLTransform`, the
        CSR form of ``x`` is built once and given to the transform, which masks it in
        ``O(nnz)`` (the same view as the dense one for column masks), instead of converting a
        dense ``[N, F]`` matrix per view.
        """
        num_nodes = x.size(0)
        data = Data(x=x, edge_index=edge_index, num_nodes=num_nodes)
        if edge_weight is not None:
            data.edge_weight = edge_weight
        x_csr = self._csr_features(x)
        sparse = None
        if x_csr is not None:
            sparse = Data(x=x_csr, edge_index=edge_index, num_nodes=num_nodes)
            if edge_weight is not None:
                sparse.edge_weight = edge_weight
        out = []
        for transform in (self.transform1, self.transform2):
            use_csr = sparse is not None and _masks_x_only(transform)
            out.append(transform(sparse if use_csr else data))
        return out[0], out[1]

    def _csr_features(self, x: Tensor) -> Optional[Tensor]:
        """The CSR form of ``x`` when the encoder would make it itself, else ``None``."""
        from pyagc.encoders.tuned_gnn import TunedGCN
        encoder = self.encoder
        if (not isinstance(encoder, TunedGCN) or encoder.sparse_inputs != "auto"
                or encoder.pre_linear is not None or x.layout != torch.strided
                or x.requires_grad):
            return None
        csr = self._csr_cache(x)
        return csr if csr.layout == torch.sparse_csr else None

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tuple[Tensor, Tensor]:
        """The two views' embeddings ``(h1 [N, D], h2 [N, D])``."""
        out = []
        for view in self.views(x, edge_index, edge_weight):
            out.append(self.embed(view.x, view.edge_index,
                                  getattr(view, "edge_weight", None), **kwargs))
        return out[0], out[1]

    # ------------------------------------------------------------------ losses
    def objective(self, h1: Tensor, h2: Tensor, edge_index: Tensor) -> LossOutput:
        """The loss of the two views' embeddings ``[n, D]``; ``edge_index`` holds the edges
        of the (clean) graph among these ``n`` nodes."""
        raise NotImplementedError

    def loss(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
             **kwargs: Any) -> LossOutput:
        """The loss on the whole graph (both views drawn afresh)."""
        h1, h2 = self.forward(x, edge_index, edge_weight, **kwargs)
        return self.objective(h1, h2, edge_index)

    def loss_batch(self, batch: Data, **kwargs: Any) -> LossOutput:
        """The loss of a :class:`~pyagc.sampling.NeighborLoader` batch on its seed nodes."""
        size = int(batch.batch_size)
        h1, h2 = self.forward(**self._inputs(batch), **self._per_hop_inputs(batch), **kwargs)
        edge_index = batch.edge_index
        seeds = (edge_index[0] < size) & (edge_index[1] < size)
        return self.objective(first_rows(h1, size), first_rows(h2, size), edge_index[:, seeds])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.encoder!r}, {self.transform1!r}, "
                f"{self.transform2!r})")
