"""pyagc.utils — seeding, dict merging, small tensor helpers and the tensor-keyed cache."""
from pyagc.utils.cache import TensorCache
from pyagc.utils.misc import (deep_update_dict, filter_kwargs, get_logger, off_diagonal,
                              pairwise_squared_distance, set_seed)

__all__ = ["set_seed", "deep_update_dict", "filter_kwargs", "get_logger", "off_diagonal",
           "pairwise_squared_distance", "TensorCache"]
