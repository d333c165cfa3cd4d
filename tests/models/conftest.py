import pytest

from pyagc.data import make_csbm


@pytest.fixture(scope="session")
def easy():
    """An easy 3-block CSBM (high homophily, strong features) every deep model must separate."""
    return make_csbm(300, 3, avg_degree=10, homophily=0.9, num_features=16,
                     feature_signal=2.0, seed=0)
