"""Metrics against independent numpy/scipy references on small inputs, and pytorch-fid's FID."""

import numpy as np
import pytest
from scipy import special

from gan.evaluation import metrics
from tests.pytorch_fid_extra import import_pytorch_fid


def _features(seed: int, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d) + shift


def _statistics_pairs():
    """(mu1, sigma1, mu2, sigma2): well-conditioned, and rank-deficient (fewer samples than
    dimensions, the near-singular case)."""
    return {
        "full_rank": (
            *metrics.gaussian_statistics(_features(0, 200, 8)),
            *metrics.gaussian_statistics(_features(1, 200, 8, shift=0.5)),
        ),
        "singular": (
            *metrics.gaussian_statistics(_features(2, 6, 16)),
            *metrics.gaussian_statistics(_features(3, 6, 16, shift=0.5)),
        ),
    }


def _reference_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """Tr sqrt(s1 s2) from the eigenvalues of s1^1/2 s2 s1^1/2 (symmetric, so eigh is exact)."""
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    tr_covmean = np.sqrt(np.clip(inner, 0, None)).sum()
    diff = mu1 - mu2
    return diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean


def test_frechet_distance_matches_eigenvalue_reference():
    stats = _statistics_pairs()["full_rank"]
    np.testing.assert_allclose(metrics.frechet_distance(*stats), _reference_frechet(*stats), 1e-9)


def test_frechet_distance_of_identical_statistics_is_zero():
    mu, sigma = metrics.gaussian_statistics(_features(4, 100, 6))
    assert abs(metrics.frechet_distance(mu, sigma, mu, sigma)) < 1e-9


@pytest.mark.parametrize("case", ["full_rank", "singular"])
def test_frechet_distance_matches_pytorch_fid(case):
    fid_score = import_pytorch_fid("fid_score")
    stats = _statistics_pairs()[case]
    expected = fid_score.calculate_frechet_distance(*stats)
    np.testing.assert_allclose(metrics.frechet_distance(*stats), expected, rtol=1e-6)


def _reference_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    k_xx, k_yy, k_xy = k(x, x), k(y, y), k(x, y)
    off = lambda kk: (kk.sum() - np.trace(kk)) / (m * (m - 1))  # noqa: E731
    return off(k_xx) + off(k_yy) - 2 * k_xy.mean()


def test_kid_matches_numpy_reference_per_subset():
    real, fake = _features(5, 60, 10), _features(6, 50, 10, shift=0.3)
    mean, std = metrics.kernel_inception_distance(real, fake, num_subsets=5, subset_size=40)
    rng = np.random.RandomState(0)
    expected = [
        _reference_mmd2(real[rng.choice(60, 40, replace=False)], fake[rng.choice(50, 40, False)])
        for _ in range(5)
    ]
    np.testing.assert_allclose([mean, std], [np.mean(expected), np.std(expected)], rtol=1e-4)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(2, 300, 8))
    same, _ = metrics.kernel_inception_distance(real, fake, num_subsets=10, subset_size=200)
    moved, _ = metrics.kernel_inception_distance(real, fake + 1.0, num_subsets=10, subset_size=200)
    assert abs(same) < 0.02 < moved


def test_inception_score_matches_numpy_reference():
    logits = np.random.default_rng(9).normal(size=(40, 7)) * 3
    mean, std = metrics.inception_score(logits, num_splits=4)
    scores = []
    for part in np.split(logits, 4):
        p = special.softmax(part, axis=1)
        kl = np.sum(p * (np.log(p) - np.log(p.mean(0, keepdims=True))), axis=1)
        scores.append(np.exp(kl.mean()))
    np.testing.assert_allclose([mean, std], [np.mean(scores), np.std(scores)], rtol=1e-5)


def test_inception_score_bounds():
    confident_distinct = np.eye(10)[np.arange(100) % 10] * 50.0  # 10 classes, each certain
    assert metrics.inception_score(confident_distinct)[0] == pytest.approx(10.0, rel=1e-3)
    assert metrics.inception_score(np.zeros((100, 10)))[0] == pytest.approx(1.0)


def _reference_precision_recall(real, fake, k):
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]

    def inside(queries, centres):
        d = np.linalg.norm(queries[:, None] - centres[None], axis=-1)
        return np.mean(np.any(d <= radii(centres)[None], axis=1))

    return inside(fake, real), inside(real, fake)


def test_precision_recall_match_numpy_reference():
    real, fake = _features(10, 70, 5), _features(11, 50, 5, shift=0.7)
    expected = _reference_precision_recall(real, fake, k=3)
    np.testing.assert_allclose(metrics.precision_recall(real, fake, k=3), expected)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1  # the case is not trivial


def test_precision_recall_see_mode_collapse():
    rng = np.random.default_rng(12)
    real = np.concatenate([rng.normal(size=(100, 2)) * 0.1 + c for c in ([0, 0], [5, 5])])
    collapsed = rng.normal(size=(200, 2)) * 0.1  # only the first mode
    precision, recall = metrics.precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.6


def test_factor_coverage_counts_distinct_combinations():
    factors = np.array([[0, 1], [0, 1], [1, 0], [2, 2]])
    assert metrics.factor_coverage(factors, (3, 3)) == pytest.approx(3 / 9)


def test_factor_kl_matches_hand_computation_and_grows_with_collapse():
    real = np.array([[0], [1], [0], [1]])  # uniform over 2 values
    fake = np.array([[0], [0], [0], [1]])
    q = np.array([4, 2]) / 6  # add-one smoothed generated counts
    expected = 0.5 * np.log(0.5 / q[0]) + 0.5 * np.log(0.5 / q[1])
    assert metrics.factor_kl(real, fake, (2,)) == pytest.approx([expected])
    collapsed = np.zeros((4, 1), int)
    assert metrics.factor_kl(real, collapsed, (2,))[0] > expected > 0
    assert metrics.factor_kl(real, real, (2,))[0] < metrics.factor_kl(real, fake, (2,))[0]


def test_class_accuracy_overall_and_per_class_and_for_a_generator_ignoring_labels():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    overall, *per_class = metrics.class_accuracy(predicted, labels, 4)
    assert overall == pytest.approx(4 / 6)
    assert per_class[:3] == pytest.approx([1 / 2, 2 / 3, 1.0]) and np.isnan(per_class[3])
    rng = np.random.default_rng(0)
    labels = np.arange(8000) % 8
    ignoring = metrics.class_accuracy(rng.integers(0, 8, 8000), labels, 8)
    assert ignoring[0] == pytest.approx(1 / 8, abs=0.02)
