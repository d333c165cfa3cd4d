import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from pyagc.metrics import label_metrics


def test_nmi_ari_homo_comp_match_scikit_learn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 7, 500))
    out = label_metrics(torch.as_tensor(y_true), torch.as_tensor(y_pred),
                        ("NMI", "ARI", "Homo", "Comp"))
    assert out["NMI"] == pytest.approx(skm.normalized_mutual_info_score(y_true, y_pred))
    assert out["ARI"] == pytest.approx(skm.adjusted_rand_score(y_true, y_pred))
    assert out["Homo"] == pytest.approx(skm.homogeneity_score(y_true, y_pred))
    assert out["Comp"] == pytest.approx(skm.completeness_score(y_true, y_pred))


def test_acc_is_invariant_to_cluster_renaming():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([5, 5, 3, 3, 9, 9])
    out = label_metrics(y_true, y_pred)
    assert out["ACC"] == 1.0 and out["F1"] == 1.0 and out["NMI"] == pytest.approx(1.0)


def test_acc_with_more_clusters_than_classes():
    # Classes 0 (4 nodes), 1 (2 nodes). Three clusters: {0,1,2} and {3} of class 0, {4,5} of class 1.
    y_true = np.array([0, 0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 1, 2, 2])
    out = label_metrics(y_true, y_pred, ("ACC", "F1"))
    # Best one-to-one map: cluster 0 -> class 0, cluster 2 -> class 1; cluster 1 stays unmatched.
    assert out["ACC"] == pytest.approx(5 / 6)
    # Class 0: precision 1, recall 3/4; class 1: precision 1, recall 1.
    assert out["F1"] == pytest.approx((6 / 7 + 1) / 2)


def test_acc_with_fewer_clusters_than_classes():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 0, 1, 1])
    out = label_metrics(y_true, y_pred, ("ACC", "F1"))
    assert out["ACC"] == pytest.approx(4 / 6)
    # Classes 0 and 2 matched with precision .5/1 and recall 1/1; class 1 gets no cluster.
    assert out["F1"] == pytest.approx((2 * 0.5 / 1.5 + 0 + 1) / 3)


def test_negative_labels_are_ignored():
    y_true = np.array([0, 0, 1, 1, -1, -1])
    y_pred = np.array([1, 1, 0, 0, 0, 1])
    out = label_metrics(y_true, y_pred, ("ACC", "NMI"))
    assert out["ACC"] == 1.0 and out["NMI"] == pytest.approx(1.0)


def test_metric_names_are_case_insensitive_and_unknown_raises():
    assert set(label_metrics([0, 1], [1, 0], ("acc", "nmi"))) == {"ACC", "NMI"}
    assert set(label_metrics([0, 1], [1, 0], "f1")) == {"F1"}
    with pytest.raises(ValueError, match="Unknown label metric"):
        label_metrics([0, 1], [0, 1], ("purity",))


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="entries"):
        label_metrics([0, 1, 2], [0, 1])
