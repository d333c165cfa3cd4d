"""pyagc.ops — shared graph operators: normalised adjacency (sparse CSR), k-hop propagation,
polynomial graph filters, randomized SVD and the bfloat16 probe."""
from pyagc.ops.adjacency import (adjacency_csr, aggregation_csr, cached_adjacency_and_degree,
                                 csr_to_torch, normalize_csr, normalized_adjacency,
                                 normalized_operator,
                                 to_sparse_adjacency)
from pyagc.ops.degree import degree
from pyagc.ops.propagate import ColumnSlabs, polynomial_filter, propagate, spmm
from pyagc.ops.svd import flip_signs, gram_r_factor, randomized_svd
from pyagc.ops.encoder_inputs import first_rows, permute_rows, select_rows, to_sparse_features
from pyagc.ops.negative_sampling import NegativeSampler, sample_negative_edges
from pyagc.ops.precision import bf16_matmul_is_fast
from pyagc.ops.random import DeviceGenerators
from pyagc.ops.sparse import csr_matmul, transpose_csr

__all__ = ["adjacency_csr", "aggregation_csr", "csr_to_torch", "normalize_csr", "normalized_adjacency",
           "normalized_operator", "ColumnSlabs",
           "to_sparse_adjacency", "cached_adjacency_and_degree", "degree",
           "propagate", "spmm",
           "polynomial_filter", "randomized_svd", "flip_signs", "gram_r_factor",
           "to_sparse_features", "permute_rows", "select_rows", "first_rows", "NegativeSampler",
           "sample_negative_edges",
           "DeviceGenerators", "csr_matmul", "transpose_csr", "bf16_matmul_is_fast"]
