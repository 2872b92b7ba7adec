"""Sample-quality metrics on feature vectors: FID, KID, Inception Score, precision and recall.

Every metric takes features (or logits) already extracted by a network (`gan.evaluation`), so
the same code scores Inception features and the embedded dataset's evaluator features.

The heavy, batched parts run in JAX under `jax.jit`: the polynomial kernels of KID, the softmax
statistics of IS, the pairwise distances of precision/recall (in row blocks, so 50k x 50k never
sits in memory). The Fréchet distance is computed on the host in float64 with SciPy's matrix
square root, exactly as pytorch-fid's `calculate_frechet_distance` does: the 2048x2048 square
root of a nearly singular product is where FID implementations disagree, and float32 is not
enough there.

References: Heusel et al. 2017 (FID), Bińkowski et al. 2018 (KID), Salimans et al. 2016 (IS),
Kynkäänniemi et al. 2019 (precision and recall).
"""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg

# pytorch-fid's defaults: offset added to both covariances when their product is singular, and
# the largest imaginary part of the square root's diagonal that is still rounding noise.
SINGULAR_OFFSET = 1e-6
IMAGINARY_TOLERANCE = 1e-3
DISTANCE_BLOCK = 1024  # rows of one block of pairwise distances


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, float64) of (N, D) features, as FID needs them."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as pytorch-fid computes it.

    d^2 = |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2)). When the product is
    singular (its square root is not finite), `SINGULAR_OFFSET` is added to both diagonals;
    a square root with a non-negligible imaginary diagonal is an error.

    Args:
      mu1, mu2: (D,) means.
      sigma1, sigma2: (D, D) covariances.

    Returns:
      The squared Fréchet distance (what papers report as FID).

    Raises:
      ValueError: the square root has an imaginary component larger than rounding noise.
    """
    mu1, mu2 = (np.atleast_1d(mu).astype(np.float64) for mu in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(sigma).astype(np.float64) for sigma in (sigma1, sigma2))
    with warnings.catch_warnings():  # a singular product is handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * SINGULAR_OFFSET
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_TOLERANCE):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))} in sqrtm.")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


@jax.jit
def polynomial_mmd2(x: jax.Array, y: jax.Array) -> jax.Array:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3 of KID, for equal-size sets.

    Args:
      x, y: (m, d) features.

    Returns:
      The unbiased estimate (the diagonals of k(x, x) and k(y, y) are left out).
    """
    m, d = x.shape
    kernel = lambda a, b: (a @ b.T / d + 1.0) ** 3  # noqa: E731
    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    within = (k_xx.sum() - jnp.trace(k_xx) + k_yy.sum() - jnp.trace(k_yy)) / (m * (m - 1))
    return within - 2 * k_xy.mean()


def kernel_inception_distance(
    real: np.ndarray,
    fake: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: the polynomial MMD^2 averaged over random subsets (Bińkowski et al. 2018).

    Each subset draws `subset_size` rows of each set without replacement, as the reference
    implementations (the KID paper's code, torch-fidelity) do.

    Args:
      real, fake: (N, D) features.
      num_subsets: number of subset pairs.
      subset_size: rows per subset; capped at the smaller set's size.
      seed: seed of the subset draws.

    Returns:
      Mean and standard deviation (over subsets) of the MMD^2 estimates.
    """
    size = min(subset_size, len(real), len(fake))
    rng = np.random.RandomState(seed)
    real, fake = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
    estimates = [
        polynomial_mmd2(
            real[rng.choice(len(real), size, replace=False)],
            fake[rng.choice(len(fake), size, replace=False)],
        )
        for _ in range(num_subsets)
    ]
    estimates = np.asarray(jax.device_get(estimates), np.float64)
    return float(estimates.mean()), float(estimates.std())


@functools.partial(jax.jit, static_argnames="num_splits")
def _split_scores(logits: jax.Array, num_splits: int) -> jax.Array:
    probs = jax.nn.softmax(logits.reshape(num_splits, -1, logits.shape[-1]), axis=-1)
    log_probs = jax.nn.log_softmax(logits.reshape(num_splits, -1, logits.shape[-1]), axis=-1)
    marginal = probs.mean(axis=1, keepdims=True)
    kl = jnp.sum(probs * (log_probs - jnp.log(marginal)), axis=-1)
    return jnp.exp(kl.mean(axis=1))


def inception_score(logits: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))), per split (Salimans et al. 2016).

    Args:
      logits: (N, C) class logits of the generated images; N is cut to a multiple of
        `num_splits` (at most num_splits - 1 images left out).
      num_splits: consecutive splits scored separately, 10 as in the original code.

    Returns:
      Mean and standard deviation of the per-split scores.
    """
    usable = len(logits) // num_splits * num_splits
    scores = np.asarray(_split_scores(jnp.asarray(logits[:usable]), num_splits), np.float64)
    return float(scores.mean()), float(scores.std())


@jax.jit
def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
    sq = jnp.sum(a**2, -1)[:, None] + jnp.sum(b**2, -1)[None, :] - 2 * a @ b.T
    return jnp.maximum(sq, 0.0)


@functools.partial(jax.jit, static_argnames="k")
def _kth_neighbour_block(block: jax.Array, points: jax.Array, k: int) -> jax.Array:
    # The point itself is its own nearest neighbour (distance 0), hence k + 1.
    return -jax.lax.top_k(-_squared_distances(block, points), k + 1)[0][:, k]


@jax.jit
def _inside_block(block: jax.Array, centres: jax.Array, radii: jax.Array) -> jax.Array:
    return jnp.any(_squared_distances(block, centres) <= radii[None, :], axis=1)


def _row_blocks(features: jax.Array):
    return (features[i : i + DISTANCE_BLOCK] for i in range(0, len(features), DISTANCE_BLOCK))


def manifold_radii(features: np.ndarray, k: int = 3) -> np.ndarray:
    """Squared distance of every point to its k-th nearest neighbour within the set."""
    points = jnp.asarray(features, jnp.float32)
    return np.concatenate([_kth_neighbour_block(b, points, k) for b in _row_blocks(points)])


def fraction_inside(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Fraction of `queries` inside at least one ball (centre, squared radius)."""
    centres, radii = jnp.asarray(centres, jnp.float32), jnp.asarray(radii)
    inside = [_inside_block(b, centres, radii) for b in _row_blocks(jnp.asarray(queries))]
    return float(np.concatenate(jax.device_get(inside)).mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points reaching their k-th nearest
    neighbour. Precision is the fraction of generated points inside the real manifold (are the
    samples realistic?), recall the fraction of real points inside the generated manifold (is
    the data's variety covered?).

    Args:
      real, fake: (N, D) and (M, D) features.
      k: neighbourhood size, 3 as in the paper.

    Returns:
      (precision, recall), each in [0, 1].
    """
    real, fake = np.asarray(real, np.float32), np.asarray(fake, np.float32)
    precision = fraction_inside(fake, real, manifold_radii(real, k))
    recall = fraction_inside(real, fake, manifold_radii(fake, k))
    return precision, recall


def factor_coverage(factors: np.ndarray, sizes: tuple[int, ...]) -> float:
    """Fraction of all factor combinations (prod(sizes)) that at least one row of `factors` hits.

    With N images at most N combinations can be hit, so compare with the real data's coverage
    at the same N, not with 1.
    """
    return len(np.unique(factors, axis=0)) / float(np.prod(sizes))


def factor_kl(real: np.ndarray, fake: np.ndarray, sizes: tuple[int, ...]) -> list[float]:
    """KL(real || generated) of each factor's marginal distribution, in nats.

    This direction grows when the generator misses values the data has (mode collapse). The
    generated counts get add-one smoothing, so a missing value costs a large but finite amount.

    Args:
      real, fake: (N, F) and (M, F) factor indices.
      sizes: number of values of each factor.

    Returns:
      One KL per factor.
    """
    kls = []
    for column, size in enumerate(sizes):
        p = np.bincount(real[:, column], minlength=size) / len(real)
        q = (np.bincount(fake[:, column], minlength=size) + 1) / (len(fake) + size)
        nonzero = p > 0
        kls.append(float(np.sum(p[nonzero] * np.log(p[nonzero] / q[nonzero]))))
    return kls


def class_accuracy(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> list[float]:
    """Accuracy of `predicted` against `labels` overall and for each class (NaN for a class no
    label has): for a conditional generator, whether its samples show the class they were
    drawn for. A generator that ignores its labels scores about 1 / num_classes.

    Returns:
      [overall, class 0, ..., class num_classes - 1].
    """
    correct = np.asarray(predicted) == np.asarray(labels)
    per_class = [
        float(correct[labels == c].mean()) if np.any(labels == c) else float("nan")
        for c in range(num_classes)
    ]
    return [float(correct.mean()), *per_class]
