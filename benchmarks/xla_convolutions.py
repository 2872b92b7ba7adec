"""XLA's own convolution kernels in place of `gan/models/strided_conv`'s matrix products.

`python -m benchmarks.train_step --xla-convolutions` times the train step with these, so the
gain of the matrix-product formulation can be measured on any machine; the README gives the
figures for a CPU and a GPU. Same operators, same numbers up to float rounding
(`tests/test_benchmarks.py`).
"""

import jax
import jax.numpy as jnp
from jax import lax

from gan.models import strided_conv

_NHWC = ("NHWC", "HWIO", "NHWC")


def conv_down(x: jax.Array, kernel: jax.Array, dtype=jnp.float32) -> jax.Array:
    """`strided_conv.conv_down` as one `lax.conv_general_dilated`."""
    return lax.conv_general_dilated(
        x.astype(dtype),
        kernel.astype(dtype),
        window_strides=(2, 2),
        padding=((1, 1), (1, 1)),
        dimension_numbers=_NHWC,
        preferred_element_type=jnp.float32,
    )


def conv_up(x: jax.Array, kernel: jax.Array, dtype=jnp.float32) -> jax.Array:
    """`strided_conv.conv_up` (the adjoint of `conv_down` with `kernel`) as `lax.conv_transpose`."""
    return lax.conv_transpose(
        x.astype(dtype),
        kernel.astype(dtype),
        strides=(2, 2),
        padding=((2, 2), (2, 2)),
        dimension_numbers=_NHWC,
        transpose_kernel=True,
        preferred_element_type=jnp.float32,
    )


def install() -> None:
    """Makes `DownConv` and `UpConv` (and so both networks) use the functions above."""
    strided_conv.conv_down, strided_conv.conv_up = conv_down, conv_up
