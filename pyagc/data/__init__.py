"""pyagc.data — benchmark datasets, a user's own graphs, and the synthetic CSBM generator."""
from pyagc.data.datasets import available_datasets, get_dataset
from pyagc.data.io import load_graph
from pyagc.data.synthetic import make_csbm, make_products_like
from pyagc.data.validation import (check_edge_index, check_features, check_labels,
                                   validate_graph)

__all__ = ["get_dataset", "available_datasets", "load_graph", "make_csbm", "make_products_like", "validate_graph",
           "check_edge_index", "check_features", "check_labels"]
