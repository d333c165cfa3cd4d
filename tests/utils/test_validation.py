import math
import numbers

import numpy as np
import pytest
import torch

from pyagc.utils.validation import ConfigError, ScalarTypeError, check_edge_index, check_scalar


@pytest.mark.parametrize("x, target_type", [
    (3, int), (0, numbers.Integral), (2.5, float), (2.5, (int, float)), (3, (int, float)),
    (np.float64(0.5), float), (np.int64(4), numbers.Integral), (0.5, numbers.Real),
    (True, bool), ("rw", str),
])
def test_accepted_values_are_returned_unchanged(x, target_type):
    assert check_scalar(x, "x", target_type) is x


@pytest.mark.parametrize("x, target_type, expected", [
    (1.5, int, "K must be an integer, got 1.5 of type float."),
    ("3", (int, float), "K must be a number, got '3' of type str."),
    (3, float, "K must be a float, got 3 of type int."),
    (None, str, "K must be an instance of str, got None of type NoneType."),
])
def test_wrong_type_names_the_parameter_the_type_and_the_value(x, target_type, expected):
    with pytest.raises(ScalarTypeError) as info:
        check_scalar(x, "K", target_type)
    assert str(info.value) == expected


@pytest.mark.parametrize("target_type", [int, (int, float), numbers.Real, numbers.Integral])
@pytest.mark.parametrize("x", [True, False, np.bool_(True)])
def test_bool_is_never_a_number(x, target_type):
    with pytest.raises(ScalarTypeError, match="of type bool"):
        check_scalar(x, "n_clusters", target_type, min_val=0)


def test_the_type_error_is_both_a_type_error_and_a_value_error():
    assert issubclass(ScalarTypeError, TypeError) and issubclass(ScalarTypeError, ValueError)
    for error in (TypeError, ValueError):
        with pytest.raises(error):
            check_scalar(0.5, "k", int)


@pytest.mark.parametrize("include, low_ok, high_ok, shown", [
    ("both", True, True, "in [0, 1]"),
    ("left", True, False, "in [0, 1)"),
    ("right", False, True, "in (0, 1]"),
    ("neither", False, False, "in (0, 1)"),
])
def test_boundaries_open_or_closed(include, low_ok, high_ok, shown):
    for x, ok in ((0, low_ok), (1, high_ok), (0.5, True), (-0.1, False), (1.1, False)):
        if ok:
            assert check_scalar(x, "alpha", (int, float), min_val=0, max_val=1,
                                include_boundaries=include) == x
        else:
            with pytest.raises(ValueError) as info:
                check_scalar(x, "alpha", (int, float), min_val=0, max_val=1,
                             include_boundaries=include)
            assert str(info.value) == f"alpha must be a number {shown}, got {x!r}."
            assert not isinstance(info.value, TypeError)  # a range error is a ValueError only


@pytest.mark.parametrize("kwargs, x, message", [
    (dict(min_val=1), 0, "epochs must be an integer >= 1, got 0."),
    (dict(min_val=0, include_boundaries="neither"), 0, "epochs must be an integer > 0, got 0."),
    (dict(max_val=10), 11, "epochs must be an integer <= 10, got 11."),
    (dict(max_val=10, include_boundaries="neither"), 10,
     "epochs must be an integer < 10, got 10."),
])
def test_one_sided_ranges(kwargs, x, message):
    with pytest.raises(ValueError) as info:
        check_scalar(x, "epochs", int, **kwargs)
    assert str(info.value) == message
    assert check_scalar(5, "epochs", int, **kwargs) == 5


def test_nan_is_outside_every_range_but_passes_without_one():
    with pytest.raises(ValueError, match="lr must be a number > 0, got nan"):
        check_scalar(math.nan, "lr", (int, float), min_val=0, include_boundaries="neither")
    with pytest.raises(ValueError, match="got nan"):
        check_scalar(math.nan, "lr", float, max_val=1.0)
    assert math.isnan(check_scalar(math.nan, "lr", float))


@pytest.mark.parametrize("kwargs, message", [
    (dict(include_boundaries="closed"), "include_boundaries must be one of"),
    (dict(max_val=1, include_boundaries="left"), "include_boundaries='left' needs min_val"),
    (dict(min_val=0, include_boundaries="right"), "include_boundaries='right' needs max_val"),
])
def test_inconsistent_boundaries_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_scalar(0.5, "x", float, **kwargs)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_the_graph_checks_moved_here_are_the_ones_pyagc_data_exports():
    from pyagc.data import check_edge_index as from_data
    from pyagc.data.validation import check_features, check_labels
    from pyagc.utils import validation
    assert from_data is check_edge_index
    assert check_features is validation.check_features and check_labels is validation.check_labels
    assert check_edge_index(torch.tensor([[0], [1]]), 2).dtype == torch.long


def test_check_features_finite_fast_path_keeps_exact_answers():
    """The finite-sum shortcut must neither reject large finite features whose sum overflows
    nor accept NaN / inf (including +inf and -inf that would cancel to NaN)."""
    from pyagc.utils.validation import check_features
    big = torch.full((4, 3), 3e38)  # finite, but the float32 sum overflows to inf
    assert check_features(big) is big
    for bad_value in (float("nan"), float("inf"), -float("inf")):
        x = torch.ones(5, 2)
        x[3, 1] = bad_value
        with pytest.raises(ValueError, match="NaN or infinite values in 1 rows.*node 3"):
            check_features(x)
    x = torch.ones(5, 2)
    x[1, 0], x[2, 0] = float("inf"), -float("inf")
    with pytest.raises(ValueError, match="in 2 rows .first: node 1"):
        check_features(x)
