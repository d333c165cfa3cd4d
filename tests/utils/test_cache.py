import copy
import pickle

import torch

from pyagc.utils import TensorCache


def test_tensor_cache_misses_after_in_place_edit():
    calls = []
    cache = TensorCache(lambda t: calls.append(1) or t.sum().item())
    t = torch.ones(3)
    assert cache(t) == 3 and cache(t) == 3 and len(calls) == 1
    t.add_(1)
    assert cache(t) == 6 and len(calls) == 2


def test_tensor_cache_keys_on_every_tensor_input_and_the_other_values():
    calls = []

    def fn(a, b, scale):
        calls.append(1)
        return (a.sum() + (0 if b is None else b.sum())) * scale

    cache = TensorCache(fn)
    a, b = torch.ones(3), torch.ones(2)
    assert cache(a, b, 2) == 10 and cache(a, b, 2) == 10 and len(calls) == 1
    b.add_(1)                                   # in-place edit of the second tensor
    assert cache(a, b, 2) == 14 and len(calls) == 2
    assert cache(a, b.clone(), 2) == 14 and len(calls) == 3   # same values, another tensor
    assert cache(a, None, 2) == 6 and cache(a, None, 3) == 9 and len(calls) == 5


def test_tensor_cache_copies_and_pickles_start_empty():
    cache = TensorCache(torch.sum)
    cache(torch.ones(3))
    for clone in (copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
        assert clone._value is None and clone.fn is torch.sum
