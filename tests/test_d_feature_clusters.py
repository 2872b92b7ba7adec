"""Tests for experiments/d_feature_clusters.py: NMI on partitions with known answers."""

import numpy as np

from experiments import d_feature_clusters


def test_nmi_is_one_for_the_same_partition_and_near_zero_for_independent_ones():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 4000)
    renamed = (labels * 3 + 1) % 8  # the same partition under other names
    assert d_feature_clusters.normalised_mutual_information(labels, renamed) == 1.0
    independent = rng.integers(0, 8, 4000)
    assert d_feature_clusters.normalised_mutual_information(labels, independent) < 0.01
    coarser = labels // 2  # half the information of labels
    nmi = d_feature_clusters.normalised_mutual_information(labels, coarser)
    assert 0.7 < nmi < 0.9
