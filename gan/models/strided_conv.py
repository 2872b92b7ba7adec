"""DCGAN's stride-2 4x4 convolution (padding 1) and its transpose, computed as matrix products.

Every layer of DCGAN but the first and last is one of two operators: D's stride-2 4x4
convolution, which halves the resolution, and G's transposed convolution, which doubles it and
is exactly the adjoint (the input gradient) of the former. XLA on CPU runs the gradients of
both through slow convolution kernels: the input gradient of a strided convolution becomes an
input-dilated convolution, which made `nn.ConvTranspose` 60x slower than PyTorch. Matrix
products, by contrast, run at the CPU's peak, and with bfloat16 operands and float32
accumulation (`dtype=jnp.bfloat16`) on the CPU's bf16 matrix units (AMX, AVX512-BF16).

The rewrite, exact up to float rounding: after a space-to-depth of the padded input (each 2x2
block of pixels becomes one pixel with 4x the channels), a stride-2 4x4 convolution is a
stride-1 2x2 convolution, i.e. one matrix product of the 2x2 windows (`windows`) with the
rearranged kernel (`kernel_matrix`). Its input gradient is again a 2x2 window product, of the
padded output gradient with the spatially flipped kernel, followed by depth-to-space. Its
kernel gradient is the product of the output gradient and the same windows. The three
functions `_conv`, `_input_grad` and `_kernel_grad` are all there is; `conv_down` and `conv_up`
pair them into custom VJPs so that autodiff never falls back to convolution kernels.

Shapes: NHWC activations; kernels (4, 4, in, out) as in `nn.Conv`.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp


def space_to_depth(x: jax.Array) -> jax.Array:
    """(N, 2H, 2W, C) -> (N, H, W, 4C), channels ordered (row parity, column parity, C)."""
    n, h, w, c = x.shape
    x = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h // 2, w // 2, 4 * c)


def depth_to_space(x: jax.Array) -> jax.Array:
    """The inverse of `space_to_depth`: (N, H, W, 4C) -> (N, 2H, 2W, C)."""
    n, h, w, c4 = x.shape
    x = x.reshape(n, h, w, 2, 2, c4 // 4).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, 2 * h, 2 * w, c4 // 4)


def windows(x: jax.Array) -> jax.Array:
    """Every 2x2 window of (N, H+1, W+1, C) as a row of a (N*H*W, 4C) matrix, (i, j, C) order."""
    n, h, w = x.shape[0], x.shape[1] - 1, x.shape[2] - 1
    rows = jnp.concatenate([x[:, i : i + h, j : j + w] for i in range(2) for j in range(2)], -1)
    return rows.reshape(n * h * w, -1)


def kernel_matrix(kernel: jax.Array) -> jax.Array:
    """(4, 4, C, O) -> (16C, O): tap (2i + a, 2j + b) at row (i, j, a, b, c), as `windows`
    of a space-to-depth input order them."""
    c, o = kernel.shape[2:]
    return kernel.reshape(2, 2, 2, 2, c, o).transpose(0, 2, 1, 3, 4, 5).reshape(16 * c, o)


def kernel_from_matrix(matrix: jax.Array, c: int, o: int) -> jax.Array:
    """The inverse of `kernel_matrix`."""
    return matrix.reshape(2, 2, 2, 2, c, o).transpose(0, 2, 1, 3, 4, 5).reshape(4, 4, c, o)


def matmul(a: jax.Array, b: jax.Array, dtype) -> jax.Array:
    """a @ b with operands in `dtype`, accumulated and returned in float32.

    float32 results are also what XLA CPU needs to hand bf16 operands to its fast GEMM
    libraries; a bf16 result falls back to a generic, much slower kernel.
    """
    return jnp.dot(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


def pad1(x: jax.Array) -> jax.Array:
    """One pixel of zeros around each image."""
    return jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _patches(x: jax.Array, dtype) -> jax.Array:
    """The rows `_conv` multiplies with `kernel_matrix`: windows of the padded, s2d input."""
    return windows(space_to_depth(pad1(x.astype(dtype))))


def _conv(x: jax.Array, kernel: jax.Array, dtype) -> jax.Array:
    """Stride-2 4x4 convolution with padding 1: (N, H, W, C) -> (N, H/2, W/2, O)."""
    n, h, w = x.shape[:3]
    y = matmul(_patches(x, dtype), kernel_matrix(kernel), dtype)
    return y.reshape(n, h // 2, w // 2, -1)


def _input_grad(dy: jax.Array, kernel: jax.Array, dtype) -> jax.Array:
    """The adjoint of `_conv` in its input: (N, H/2, W/2, O) -> (N, H, W, C).

    Space-to-depth pixel (r, s) of the padded input reaches outputs (r - i, s - j) through
    the taps of window offset (i, j), so its gradient is a 2x2 window product of the padded
    output gradient with the kernel flipped in (i, j) and transposed.
    """
    n, h, w, o = dy.shape
    c = kernel.shape[2]
    flipped = kernel.reshape(2, 2, 2, 2, c, o)[::-1, :, ::-1]  # (i, a, j, b, c, o), i, j flipped
    flipped = flipped.transpose(0, 2, 5, 1, 3, 4).reshape(4 * o, 4 * c)
    grad_s2d = matmul(windows(pad1(dy.astype(dtype))), flipped, dtype)
    grad_padded = depth_to_space(grad_s2d.reshape(n, h + 1, w + 1, 4 * c))
    return grad_padded[:, 1:-1, 1:-1]


def _kernel_grad(x: jax.Array, dy: jax.Array, dtype) -> jax.Array:
    """The gradient of `_conv` in its kernel: patches^T @ dy, (4, 4, C, O).

    Written as a contraction over (image, position) rather than a plain transposed matmul:
    XLA CPU runs the latter in float32 through a slow kernel, the former on its fast path.
    """
    n, o, c = dy.shape[0], dy.shape[-1], x.shape[-1]
    patches = _patches(x, dtype).reshape(n, -1, 16 * c)
    grad = jnp.einsum(
        "npk,npo->ko",
        patches,
        dy.reshape(n, -1, o).astype(dtype),
        preferred_element_type=jnp.float32,
    )
    return kernel_from_matrix(grad, c, o)


def _bilinear_op(forward, transpose, kernel_grad):
    """`forward(x, kernel, dtype)`, linear in each argument, as a custom-VJP function whose input
    gradient is `transpose(dy, kernel, dtype)` and kernel gradient `kernel_grad(x, dy, dtype)`."""

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
    def op(x, kernel, dtype):
        return forward(x, kernel, dtype)

    def op_fwd(x, kernel, dtype):
        return forward(x, kernel, dtype), (x, kernel)

    def op_bwd(dtype, residuals, dy):
        x, kernel = residuals
        return transpose(dy, kernel, dtype).astype(x.dtype), kernel_grad(x, dy, dtype)

    op.defvjp(op_fwd, op_bwd)
    return op


_conv_down = _bilinear_op(_conv, _input_grad, _kernel_grad)
# The transposed convolution swaps the roles: its input gradient is the convolution, and its
# kernel gradient is the convolution's with input and output gradient exchanged.
_conv_up = _bilinear_op(_input_grad, _conv, lambda x, dy, dtype: _kernel_grad(dy, x, dtype))


def conv_down(x: jax.Array, kernel: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Stride-2 4x4 convolution, padding 1, kernel (4, 4, C, O); float32 output."""
    return _conv_down(x, kernel, dtype)


def conv_up(x: jax.Array, kernel: jax.Array, dtype=jnp.float32) -> jax.Array:
    """The transpose of `conv_down` with `kernel` (4, 4, F, C): (N, H, W, C) -> (N, 2H, 2W, F)."""
    return _conv_up(x, kernel, dtype)


class _StrideTwoConv(nn.Module):
    """A 4x4 kernel (4, 4, in, `features`) applied by `_apply_kernel`; no bias.

    Attributes:
      features: output channels.
      dtype: operand type of the matrix products (float32 or bfloat16); results are float32.
    """

    features: int
    dtype: jnp.dtype = jnp.float32
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (4, 4, x.shape[-1], self.features))
        return self._apply_kernel(x, kernel)


class DownConv(_StrideTwoConv):
    """Stride-2 4x4 convolution with padding 1: `nn.Conv`'s parameter and result."""

    def _apply_kernel(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        return conv_down(x, kernel, self.dtype)


class UpConv(_StrideTwoConv):
    """Stride-2 4x4 transposed convolution with padding 1 (output 2x the input).

    The parameter has `nn.ConvTranspose`'s layout (4, 4, in, out) and unflipped meaning, so
    weights move freely between the two: `nn.ConvTranspose(features, (4, 4), (2, 2),
    padding=((2, 2), (2, 2)))` computes the same function. It is `conv_down`'s transpose with
    the kernel flipped spatially and its channel axes swapped.
    """

    def _apply_kernel(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        return conv_up(x, kernel[::-1, ::-1].transpose(0, 1, 3, 2), self.dtype)
