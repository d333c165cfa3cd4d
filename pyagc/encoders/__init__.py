"""pyagc.encoders — GNN encoders for the models.

PyG's ready-made stacks are re-exported (:class:`GCN`, :class:`GraphSAGE`, :class:`GIN`,
:class:`GAT`, ...) and :func:`create_tuned_gnn` builds a :class:`TunedGNN` (pre-linear,
residual, normalisation, dropout, jumping knowledge) from the names used in the configs.

GCN normalisation caching: ``create_tuned_gnn('gcn', ..., cached=True)`` normalises a fixed
full graph once and recomputes it whenever another (or an edited) ``edge_index`` arrives, so
it is safe with mini-batches. PyG's own ``GCN(..., cached=True)`` keeps the first graph it
saw forever: use it for full-batch training only.

Sparse inputs: a tuned GCN (``sparse_inputs='auto'``, the default) runs on a CSR form of the
graph and of bag-of-words features, converted once per graph and features; see
:class:`TunedGCN`.

Full-graph inference at scale: :meth:`TunedGNN.inference` embeds every node one layer at a
time, targets in node batches with full neighbourhoods; inside ``layerwise_inference(model)``
a model's own eval-mode ``embed`` uses it.
"""
from torch_geometric.nn.models.basic_gnn import GAT, GCN, GIN, PNA, BasicGNN, EdgeCNN, GraphSAGE

from pyagc.encoders.tuned_gnn import (
    TunedGAT,
    TunedGATv2,
    TunedGCN,
    TunedGIN,
    TunedGNN,
    TunedGraphSAGE,
    create_tuned_gnn,
    layerwise_inference,
)
from pyagc.encoders.variational import VariationalEncoder

__all__ = [
    "BasicGNN", "GCN", "GraphSAGE", "GIN", "GAT", "PNA", "EdgeCNN",
    "TunedGNN", "TunedGCN", "TunedGraphSAGE", "TunedGIN", "TunedGAT", "TunedGATv2",
    "create_tuned_gnn", "layerwise_inference", "VariationalEncoder",
]
