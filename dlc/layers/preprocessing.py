"""Preprocessing and augmentation layers (channels-last images), Keras 3's names and arguments.

- Rescaling, Normalization (with `adapt`), Resizing, CenterCrop: the same at training and
  inference;
- RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomCrop, RandomContrast,
  RandomBrightness: active in training only (the identity at inference, as Keras; RandomCrop
  then center-crops and resizes to its output size).

Every geometric layer is one call of the warp kernel (`_C.image_warp_forward`, csrc/image.c)
with one 2-D projective matrix per sample, built here exactly as Keras 3 builds it, and its
backward is the kernel's adjoint, so gradients pass through a warp inside a network. Contrast
and brightness are `_C.image_adjust_forward`; Rescaling and Normalization `_C.normalize_forward`.

Randomness: like `Dropout`, each random layer keys a counter-based stream (Philox-4x32-10, the
one `_C.philox_uniform` gives) by its seed (drawn from dlc's generator unless given), a step
counter advanced by every training call, and the sample's index in the batch. A sample's
transform is therefore a pure function of (seed, step, sample): the same for any number of
threads, and `dlc.utils.set_random_seed` makes a run repeatable. `get_random_transformation`
draws the parameters and `transform_images(images, transformation)` applies given ones, as in
Keras (the parity tests feed both libraries the same parameters).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

from dlc import _C, _checks, _random
from dlc.layers.base import Ctx, Layer, accumulate, shape_str

_FILL_MODES = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}
_INTERPOLATIONS = {"nearest": 0, "bilinear": 1}
_EPSILON = 1e-7  # keras.config.epsilon(), Normalization's floor on the standard deviation


def _choice(fn: str, name: str, value: Any, choices: Iterable[str]) -> str:
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{fn}: argument `{name}` must be one of {choices}, received "
                         f"{_checks.received(value)}")
    return value


def _number(fn: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise ValueError(f"{fn}: argument `{name}` must be a finite number, received "
                         f"{_checks.received(value)}")
    return float(value)


def _factor_pair(fn: str, name: str, factor: Any, low: float, high: float, low_open: bool = False,
                 symmetric: bool = True) -> Tuple[float, float]:
    """Keras's factor: a number f gives (-|f|, |f|) (or (|f|, |f|) when not `symmetric`), a pair
    (a, b) gives (min, max); every value in [low, high] ((low, high] with `low_open`)."""
    what = (f"a number or a pair of numbers in {'(' if low_open else '['}{low}, {high}]")
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2:
            raise ValueError(f"{fn}: argument `{name}` must be {what}, received {factor!r}")
        values = [_number(fn, name, v) for v in factor]
    else:
        try:
            values = [_number(fn, name, factor)]
        except ValueError:
            raise ValueError(f"{fn}: argument `{name}` must be {what}, received "
                             f"{_checks.received(factor)}") from None
    for v in values:
        if v > high or v < low or (low_open and v == low):
            raise ValueError(f"{fn}: argument `{name}` must be {what}, received {factor!r}")
    if len(values) == 1:
        f = abs(values[0])
        return (-f, f) if symmetric else (f, f)
    lo, hi = sorted(values)
    return lo, hi


def _positive(fn: str, name: str, value: Any) -> int:
    return _checks.check_int(fn, name, value, 1)


def _channels_last(fn: str, data_format: Any) -> str:
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"{fn}: dlc is channels-last only, received data_format="
                                  f"{data_format!r}")
    return "channels_last"


def _params(transformation: Dict[str, Any], key: str, n: int, fn: str) -> np.ndarray:
    """transformation[key] (Keras's shapes: (n,), (n, 1), (n, 1, 1, 1) or a scalar) as (n,)."""
    if not isinstance(transformation, dict) or key not in transformation:
        raise ValueError(f"{fn}.transform_images: the transformation must be a dict with key "
                         f"{key!r} (from get_random_transformation), received {transformation!r:.80}")
    v = np.asarray(_to_numpy(transformation[key]), np.float64).reshape(-1)
    if v.size == 1:
        v = np.repeat(v, n)
    if v.size != n:
        raise ValueError(f"{fn}.transform_images: transformation[{key!r}] must hold one value per "
                         f"image ({n}), received {v.size}")
    return v


def _to_numpy(value: Any) -> Any:
    """A Keras / torch tensor as a NumPy array (anything else unchanged)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return value.numpy()
    return value


# ================================================================ matrices (Keras 3's)
def identity_rows(n: int) -> np.ndarray:
    """(n, 8) identity transforms."""
    t = np.zeros((n, 8), np.float64)
    t[:, 0] = t[:, 4] = 1.0
    return t


def rotation_rows(angle_degrees: np.ndarray, h: int, w: int) -> np.ndarray:
    """Keras 3 RandomRotation's matrices: rotation by `angle_degrees` about the image centre
    ((w - 1) / 2, (h - 1) / 2)."""
    a = np.asarray(angle_degrees, np.float64).reshape(-1) * (math.pi / 180.0)
    cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
    cos, sin = np.cos(a), np.sin(a)
    t = np.zeros((a.size, 8), np.float64)
    t[:, 0], t[:, 1], t[:, 3], t[:, 4] = cos, -sin, sin, cos
    t[:, 2] = cx - cx * t[:, 0] - cy * t[:, 1]
    t[:, 5] = cy - cx * t[:, 3] - cy * t[:, 4]
    return t


def zoom_rows(height_zoom: np.ndarray, width_zoom: np.ndarray, h: int, w: int) -> np.ndarray:
    """Keras 3 RandomZoom's matrices: scale by (width_zoom, height_zoom) about the centre."""
    zx = np.asarray(width_zoom, np.float64).reshape(-1)
    zy = np.asarray(height_zoom, np.float64).reshape(-1)
    t = np.zeros((zx.size, 8), np.float64)
    t[:, 0], t[:, 4] = zx, zy
    t[:, 2] = (w - 1.0) / 2.0 * (1.0 - zx)
    t[:, 5] = (h - 1.0) / 2.0 * (1.0 - zy)
    return t


def translation_rows(translations: np.ndarray) -> np.ndarray:
    """Keras 3 RandomTranslation's matrices: translations (n, 2) = (dx, dy) in pixels."""
    tr = np.asarray(translations, np.float64).reshape(-1, 2)
    t = identity_rows(tr.shape[0])
    t[:, 2], t[:, 5] = -tr[:, 0], -tr[:, 1]
    return t


def flip_rows(flips: np.ndarray, mode: str, h: int, w: int) -> np.ndarray:
    """RandomFlip's matrices: each sample with flips[i] True mirrored as `mode` says."""
    f = np.asarray(flips).reshape(-1).astype(bool)
    t = identity_rows(f.size)
    if mode in ("horizontal", "horizontal_and_vertical"):
        t[f, 0], t[f, 2] = -1.0, w - 1.0
    if mode in ("vertical", "horizontal_and_vertical"):
        t[f, 4], t[f, 5] = -1.0, h - 1.0
    return t


def resize_rows(n: int, in_hw: Tuple[int, int], out_hw: Tuple[int, int]) -> np.ndarray:
    """Resizing (torch's align_corners=False): output pixel x reads (x + 0.5) * in / out - 0.5."""
    (h, w), (oh, ow) = in_hw, out_hw
    sx, sy = w / ow, h / oh
    t = np.zeros((n, 8), np.float64)
    t[:, 0], t[:, 2], t[:, 4], t[:, 5] = sx, 0.5 * sx - 0.5, sy, 0.5 * sy - 0.5
    return t


def aspect_crop_box(h: int, w: int, th: int, tw: int) -> Tuple[int, int, int, int]:
    """Keras's smart_resize crop: the largest centred window of the target aspect ratio, as
    (top, left, height, width)."""
    ch = max(min(h, int(float(w * th) / tw)), 1)
    cw = max(min(w, int(float(h * tw) / th)), 1)
    return int(float(h - ch) / 2), int(float(w - cw) / 2), ch, cw


# ================================================================ the warp helpers
def _warp(ctx: Ctx, key: str, x: np.ndarray, rows: np.ndarray, out_hw: Tuple[int, int],
          interpolation: int, fill_mode: int, fill_value: float) -> Tuple[np.ndarray, np.ndarray]:
    n, _, _, c = x.shape
    t = np.ascontiguousarray(rows, np.float32)
    y = ctx.buf(key, (n,) + tuple(out_hw) + (c,))
    _C.image_warp_forward(x, t, y, interpolation=interpolation, fill_mode=fill_mode,
                          fill_value=fill_value)
    return y, t


def _warp_backward(saved: Dict[str, Any], dy: np.ndarray, dx: np.ndarray) -> None:
    _C.image_warp_backward(np.ascontiguousarray(dy), saved["transform"], dx,
                           interpolation=saved["interpolation"], fill_mode=saved["fill_mode"])


class _Resize:
    """Crop box then resize, for Resizing, CenterCrop and RandomCrop: the crop is copied (so the
    resampling clamps at its edges, as Keras resizes the cropped image) and warped."""

    @staticmethod
    def forward(ctx: Ctx, x: np.ndarray, box: Tuple[int, int, int, int], out_hw: Tuple[int, int],
                interpolation: int) -> np.ndarray:
        n, h, w, c = x.shape
        top, left, ch, cw = box
        src = x
        if (ch, cw) != (h, w):
            src = ctx.buf("crop", (n, ch, cw, c))
            np.copyto(src, x[:, top:top + ch, left:left + cw])
        if (ch, cw) == tuple(out_hw):
            ctx.saved.update(resize=None, box=box)
            return src
        y, t = _warp(ctx, "y", src, resize_rows(n, (ch, cw), out_hw), out_hw, interpolation,
                     _FILL_MODES["nearest"], 0.0)
        ctx.saved.update(resize=dict(transform=t, interpolation=interpolation,
                                     fill_mode=_FILL_MODES["nearest"]), box=box)
        return y

    @staticmethod
    def backward(ctx: Ctx, dy: np.ndarray, dx: Optional[np.ndarray]) -> None:
        if dx is None:
            return
        top, left, ch, cw = ctx.saved["box"]
        whole = (ch, cw) == dx.shape[1:3]
        if ctx.saved["resize"] is None:
            if whole:
                accumulate(dx, dy)
            else:
                dx[:, top:top + ch, left:left + cw] += dy
            return
        if whole:
            _warp_backward(ctx.saved["resize"], dy, dx)
            return
        part = ctx.zeros("dcrop", (dx.shape[0], ch, cw, dx.shape[3]))
        _warp_backward(ctx.saved["resize"], dy, part)
        dx[:, top:top + ch, left:left + cw] += part


# ================================================================ base classes
class _ImageLayer(Layer):
    """A layer on batches of channels-last images (n, h, w, c); called on one NumPy image
    (h, w, c) it adds and removes the batch axis, as Keras does."""

    def __init__(self, data_format: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = _channels_last(type(self).__name__, data_format)

    def _image_shape(self, input_shape: Any) -> Tuple[Any, ...]:
        if isinstance(input_shape, list) or len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects images of shape (batch, "
                             f"height, width, channels), received input shape {shape_str(input_shape)}")
        return tuple(input_shape)

    def compute_output_shape(self, input_shape):
        return self._image_shape(input_shape)

    def _call_eager(self, items, multi, training):
        if not multi and np.ndim(items[0]) == 3:  # one image
            return super()._call_eager([np.asarray(items[0])[None]], False, training)[0]
        return super()._call_eager(items, multi, training)


class _RandomImageLayer(_ImageLayer):
    """A random augmentation: identity at inference; in training, per-sample parameters from the
    (seed, step, sample) stream. Subclasses give `_UNIFORMS` (per sample), `_draw(u, h, w)` ->
    transformation dict, and `_apply(ctx, x, transformation)` / `_unapply(ctx, dy, dx)`."""

    _UNIFORMS = 4
    _list_keys: Tuple[str, ...] = ()  # config entries reported as lists when given as tuples

    def __init__(self, seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if seed is not None:
            seed = _checks.check_int(type(self).__name__, "seed", seed, 0)
        self.seed = seed
        self._seed = seed if seed is not None else _random.next_seed()
        self._step = 0

    def _uniforms(self, n: int) -> np.ndarray:
        """(n, _UNIFORMS) uniforms in [0, 1): sample i reads its own Philox blocks, so row i
        depends on (seed, step, i) only. Advances the step."""
        k = -(-self._UNIFORMS // 4) * 4
        u = np.empty((n, k), np.float32)
        _C.philox_uniform(u, seed=self._seed, step=self._step)
        self._step += 1
        return u[:, :self._UNIFORMS].astype(np.float64)

    def get_config(self):
        c = super().get_config()
        for k in self._list_keys:
            if isinstance(c.get(k), tuple):
                c[k] = list(c[k])
        return c

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        """The parameters the next training call would draw for `data` (a batch of images),
        as a dict of per-sample NumPy arrays; None when not training. Advances the step."""
        if seed is not None:
            raise NotImplementedError(f"{type(self).__name__}.get_random_transformation: argument "
                                      f"`seed` is not supported by dlc (the layer's own stream is used)")
        if not training:
            return None
        shape = np.shape(data)
        if len(shape) == 3:
            shape = (1,) + tuple(shape)
        self._image_shape(shape)
        n, h, w = shape[0], shape[1], shape[2]
        return self._draw(self._uniforms(n), h, w)

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> np.ndarray:
        """`images` (a batch, or one image) transformed by the given parameters (a dict as
        get_random_transformation returns, or Keras's); unchanged when not training."""
        x = np.ascontiguousarray(_to_numpy(images), np.float32)
        single = x.ndim == 3
        if single:
            x = x[None]
        self._image_shape(x.shape)
        if training and transformation is not None:
            x = np.array(self._apply(Ctx(), x, transformation), copy=True)
        else:
            x = x.copy()
        return x[0] if single else x

    def forward(self, ctx, x, training):
        if not training:
            ctx.saved["active"] = False
            return self._inference(ctx, x)
        ctx.saved["active"] = True
        return self._apply(ctx, x, self._draw(self._uniforms(x.shape[0]), x.shape[1], x.shape[2]))

    def backward(self, ctx, dy, dx):
        if dx is None:
            return
        if ctx.saved["active"]:
            self._unapply(ctx, dy, dx)
        else:
            self._uninference(ctx, dy, dx)

    def _inference(self, ctx: Ctx, x: np.ndarray) -> np.ndarray:
        return x

    def _uninference(self, ctx: Ctx, dy: np.ndarray, dx: np.ndarray) -> None:
        accumulate(dx, dy)

    def _draw(self, u: np.ndarray, h: int, w: int) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def _apply(self, ctx: Ctx, x: np.ndarray, transformation: Any) -> np.ndarray:
        raise NotImplementedError

    def _unapply(self, ctx: Ctx, dy: np.ndarray, dx: np.ndarray) -> None:
        raise NotImplementedError


class _RandomWarp(_RandomImageLayer):
    """A random geometric augmentation: one warp with per-sample matrices `_rows(t, h, w)`."""

    _interp_for_warp: Optional[str] = None  # overrides `interpolation` (RandomFlip: exact)

    def _init_resampling(self, fill_mode: Any, interpolation: Any, fill_value: Any) -> None:
        fn = type(self).__name__
        self.fill_mode = _choice(fn, "fill_mode", fill_mode, _FILL_MODES)
        self.interpolation = _choice(fn, "interpolation", interpolation, _INTERPOLATIONS)
        self.fill_value = _number(fn, "fill_value", fill_value)

    def _rows(self, transformation: Any, n: int, h: int, w: int) -> np.ndarray:
        raise NotImplementedError

    def _apply(self, ctx, x, transformation):
        n, h, w, _ = x.shape
        interp = _INTERPOLATIONS[self._interp_for_warp or self.interpolation]
        fill = _FILL_MODES[getattr(self, "fill_mode", "nearest")]
        y, t = _warp(ctx, "y", x, self._rows(transformation, n, h, w), (h, w), interp, fill,
                     getattr(self, "fill_value", 0.0))
        ctx.saved.update(transform=t, interpolation=interp, fill_mode=fill)
        return y

    def _unapply(self, ctx, dy, dx):
        _warp_backward(ctx.saved, dy, dx)


# ================================================================ deterministic layers
class Rescaling(Layer):
    """Multiplies by `scale` and adds `offset`: `x * scale + offset` (e.g. `1 / 255` for pixels).

    Args:
        scale: a number, or one number per channel (the last axis).
        offset: a number, or one per channel.

    Example:

    >>> x = dlc.layers.Rescaling(1.0 / 255)(inputs)
    """

    _config = ("scale", "offset")

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset
        vals = []
        for name, v in (("scale", scale), ("offset", offset)):
            a = np.asarray(_to_numpy(v), np.float64)
            if a.ndim > 1 or a.size == 0 or not np.all(np.isfinite(a)):
                raise ValueError(f"Rescaling: argument `{name}` must be a finite number or a 1-D "
                                 f"list of one per channel, received {_checks.received(v)}")
            vals.append(a.reshape(-1))
        self._scale, self._offset = vals

    def _vectors(self, channels: int) -> Tuple[np.ndarray, np.ndarray, int]:
        k = max(self._scale.size, self._offset.size)
        for name, a in (("scale", self._scale), ("offset", self._offset)):
            if a.size not in (1, k) or (k > 1 and k != channels):
                raise ValueError(f"Rescaling '{self.name}': `{name}` has {a.size} values, but the "
                                 f"input has {channels} channels (last axis)")
        mul = np.ascontiguousarray(np.broadcast_to(self._scale, (k,)), np.float32)
        add = np.ascontiguousarray(np.broadcast_to(self._offset, (k,)), np.float32)
        return mul, add, k

    def build(self, input_shape):
        if max(self._scale.size, self._offset.size) > 1:
            self._vectors(input_shape[-1])

    def get_config(self):
        c = super().get_config()
        for key in ("scale", "offset"):
            v = _to_numpy(getattr(self, key))
            c[key] = np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
        return c

    def forward(self, ctx, x, training):
        mul, add, k = self._vectors(x.shape[-1] if x.ndim else 1)
        y = ctx.buf("y", x.shape)
        _C.normalize_forward(x, np.zeros(k, np.float32), mul, add, y, outer=x.size // k, inner=1)
        ctx.saved["mul"] = mul
        return y

    def backward(self, ctx, dy, dx):
        if dx is not None:
            mul = ctx.saved["mul"]
            _C.normalize_backward(mul, np.ascontiguousarray(dy), dx, outer=dy.size // mul.size,
                                  inner=1)


class Normalization(Layer):
    """Normalizes features to zero mean and unit variance: `(x - mean) / sqrt(variance)` (the
    square root floored at 1e-7), with the statistics given or computed by `adapt`.

    Args:
        axis: the axis (or axes) that keep their own statistics (default the last, -1: one mean
            and variance per channel); None for one mean and variance over everything. The kept
            axes must be consecutive.
        mean, variance: the statistics, broadcast to the kept axes; else call `adapt`.
        invert: apply the inverse, `mean + x * sqrt(variance)`.

    Example:

    >>> norm = dlc.layers.Normalization()
    >>> norm.adapt(x_train)  # exact mean and variance of every feature, in float64
    >>> model = dlc.Sequential([dlc.Input(shape=(8,)), norm, dlc.layers.Dense(1)])
    """

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None, invert: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (list, tuple)) and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                                                     for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise ValueError(f"Normalization: argument `axis` must be an int, a tuple of ints or "
                             f"None, received {_checks.received(axis)}")
        self.axis = axis
        self.invert = _checks.check_bool("Normalization", "invert", invert)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give both `mean` and `variance` or neither, received "
                             f"mean={mean!r:.40} and variance={variance!r:.40}")
        self.input_mean, self.input_variance = mean, variance
        if mean is not None:
            m, v = np.asarray(_to_numpy(mean), np.float64), np.asarray(_to_numpy(variance), np.float64)
            if m.shape != v.shape:
                raise ValueError(f"Normalization: `mean` and `variance` must have the same shape, "
                                 f"received {m.shape} and {v.shape}")
            if m.ndim > len(self.axis):
                raise ValueError(f"Normalization: the rank of `mean` ({m.ndim}) must be at most the "
                                 f"number of kept axes {self.axis}")
        self.adapt_mean = self.adapt_variance = self.count = None
        self._keep: Tuple[int, ...] = ()

    # ---------------------------------------------------------------- shapes
    def _kept(self, input_shape: Sequence[Any]) -> Tuple[int, ...]:
        nd = len(input_shape)
        if any(a < -nd or a >= nd for a in self.axis):
            raise ValueError(f"Normalization '{self.name}': every axis must be in [-{nd}, {nd}) for "
                             f"inputs of shape {shape_str(input_shape)}, received axis={self.axis}")
        keep = tuple(sorted({a % nd for a in self.axis}))
        if 0 in keep:
            raise ValueError(f"Normalization '{self.name}': axis {self.axis} would keep the batch axis "
                             f"of inputs of shape {shape_str(input_shape)}")
        if keep and keep != tuple(range(keep[0], keep[-1] + 1)):
            raise NotImplementedError(f"Normalization: argument `axis`={self.axis} keeps axes that are "
                                      f"not consecutive, which dlc does not support")
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(f"Normalization '{self.name}': the kept axis {d} of input shape "
                                 f"{shape_str(input_shape)} must be known")
        return keep

    def build(self, input_shape):
        self._keep = self._kept(input_shape)
        shape = tuple(int(input_shape[d]) for d in self._keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight("mean", shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False)
        else:
            self._fixed_mean, self._fixed_variance = (
                np.broadcast_to(np.asarray(_to_numpy(v), np.float64), shape)
                for v in (self.input_mean, self.input_variance))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update(axis=list(self.axis) if len(self.axis) != 1 else self.axis[0], invert=self.invert,
                 mean=None if self.input_mean is None else np.asarray(_to_numpy(self.input_mean)).tolist(),
                 variance=None if self.input_variance is None
                 else np.asarray(_to_numpy(self.input_variance)).tolist())
        if not self.axis:
            c["axis"] = None
        return c

    # ---------------------------------------------------------------- statistics
    def _statistics(self) -> Tuple[np.ndarray, np.ndarray]:
        if self.input_mean is not None:
            return self._fixed_mean, self._fixed_variance
        self._require_values()
        return self.adapt_mean.value, self.adapt_variance.value

    @property
    def mean(self) -> Optional[np.ndarray]:
        """The mean in use (the kept axes' shape), None before build."""
        return None if not self.built else np.asarray(self._statistics()[0], np.float32)

    @property
    def variance(self) -> Optional[np.ndarray]:
        """The variance in use, None before build."""
        return None if not self.built else np.asarray(self._statistics()[1], np.float32)

    def adapt(self, data: Any, batch_size: Optional[int] = None, steps: Optional[int] = None) -> None:
        """Computes the mean and variance of `data` for every position of the kept axes.

        The statistics are exact: each batch's sums are taken in float64 and the batches are
        combined by Chan's parallel formula, so any batching gives the mean and (population)
        variance NumPy gives over all the data at once.

        Args:
            data: a NumPy array, a `dlc.utils.PyDataset`, or an iterable / generator of batches
                (`x` or `(x, y, ...)`; only `x` is used).
            batch_size: for arrays, the rows read at a time (default 1024).
            steps: read at most this many batches.
        """
        if batch_size is not None:
            batch_size = _checks.check_int("Normalization.adapt", "batch_size", batch_size, 1)
        if steps is not None:
            steps = _checks.check_int("Normalization.adapt", "steps", steps, 1)
        if self.input_mean is not None:
            raise ValueError("Normalization.adapt: the layer was given `mean` and `variance`; adapt "
                             "only layers created without them")
        count, mean, m2 = 0, None, None
        for i, batch in enumerate(_batches(data, batch_size)):
            if steps is not None and i >= steps:
                break
            b = np.asarray(_to_numpy(batch), np.float64)
            if b.ndim == 0:
                raise ValueError("Normalization.adapt: every batch must be an array with a batch axis, "
                                 "received a scalar")
            shape = (None,) + b.shape[1:]
            if not self.built:
                self._maybe_build(shape)
            elif self._build_shape is not None and (len(self._build_shape) != b.ndim or any(
                    self._build_shape[d] is not None and self._build_shape[d] != shape[d] for d in self._keep)):
                raise ValueError(f"Normalization.adapt: the layer was built for input shape "
                                 f"{shape_str(self._build_shape)}, received a batch of shape {b.shape}")
            reduce = tuple(d for d in range(b.ndim) if d not in self._keep)
            nb = int(np.prod([b.shape[d] for d in reduce]))
            if nb == 0:
                continue
            bmean = b.mean(axis=reduce)
            bm2 = ((b - np.expand_dims(bmean, reduce)) ** 2).sum(axis=reduce)
            if count == 0:
                count, mean, m2 = nb, bmean, bm2
            else:  # Chan et al.'s pairwise combination
                total = count + nb
                delta = bmean - mean
                mean = mean + delta * (nb / total)
                m2 = m2 + bm2 + delta ** 2 * (count * nb / total)
                count = total
        if count == 0:
            raise ValueError("Normalization.adapt: received no data (an empty array or no batches)")
        self._require_values()
        self.adapt_mean.assign(mean)
        self.adapt_variance.assign(m2 / count)
        self.count.assign(float(count))

    # ---------------------------------------------------------------- compute
    def _blocks(self, shape: Tuple[int, ...]) -> Tuple[int, int, int]:
        if not self._keep:
            return int(np.prod(shape)), 1, 1
        a, b = self._keep[0], self._keep[-1] + 1
        return (int(np.prod(shape[:a])), int(np.prod(shape[a:b])), int(np.prod(shape[b:])))

    def forward(self, ctx, x, training):
        mean, var = self._statistics()
        mean = np.ascontiguousarray(mean, np.float32).reshape(-1)
        std = np.maximum(np.sqrt(np.asarray(var, np.float32).reshape(-1)), np.float32(_EPSILON))
        outer, k, inner = self._blocks(x.shape)
        y = ctx.buf("y", x.shape)
        zeros = np.zeros(k, np.float32)
        if self.invert:
            _C.normalize_forward(x, zeros, std, mean, y, outer=outer, inner=inner)
        else:
            _C.normalize_forward(x, mean, std, zeros, y, outer=outer, inner=inner, divide=True)
        ctx.saved.update(std=std, blocks=(outer, k, inner))
        return y

    def backward(self, ctx, dy, dx):
        if dx is not None:
            outer, _, inner = ctx.saved["blocks"]
            _C.normalize_backward(ctx.saved["std"], np.ascontiguousarray(dy), dx, outer=outer,
                                  inner=inner, divide=not self.invert)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return cls(**config)


def _batches(data: Any, batch_size: Optional[int]) -> Iterable[Any]:
    """The x of every batch of `data` (an array, a PyDataset, an iterable of batches)."""
    from dlc.trainers.data_adapters import is_pydataset

    def first(item):
        return item[0] if isinstance(item, tuple) else item

    if isinstance(data, np.ndarray) or (hasattr(data, "__array__") and not hasattr(data, "__next__")
                                        and not is_pydataset(data)):
        arr = np.asarray(_to_numpy(data))
        bs = batch_size or 1024
        for i in range(0, max(arr.shape[0], 1) if arr.ndim else 1, bs):
            yield arr[i:i + bs] if arr.ndim else arr
        return
    if is_pydataset(data):
        for i in range(len(data)):
            yield first(data[i])
        return
    if isinstance(data, (list, tuple)) or hasattr(data, "__iter__"):
        for item in data:
            yield first(item)
        return
    raise TypeError(f"Normalization.adapt: argument `data` must be a NumPy array, a PyDataset or an "
                    f"iterable of batches, received {type(data).__name__}")


class Resizing(_ImageLayer):
    """Resizes images to (height, width), as Keras 3 (torch's interpolation, no antialiasing).

    Args:
        height, width: the output size.
        interpolation: 'bilinear' (default) or 'nearest'.
        crop_to_aspect_ratio: first take the largest centred window of the output's aspect ratio
            (no distortion).

    Example:

    >>> x = dlc.layers.Resizing(32, 32)(inputs)
    """

    _config = ("height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
               "fill_mode", "fill_value", "antialias", "data_format")

    def __init__(self, height: int, width: int, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
                 fill_mode: str = "constant", fill_value: float = 0.0, antialias: bool = False,
                 data_format: Any = None, **kwargs: Any) -> None:
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = _positive("Resizing", "height", height), _positive("Resizing", "width", width)
        if interpolation in ("bicubic", "lanczos3", "lanczos5", "area"):
            raise NotImplementedError(f"Resizing: argument `interpolation`={interpolation!r} is not "
                                      f"supported by dlc (use 'bilinear' or 'nearest')")
        self.interpolation = _choice("Resizing", "interpolation", interpolation, _INTERPOLATIONS)
        self.crop_to_aspect_ratio = _checks.check_bool("Resizing", "crop_to_aspect_ratio", crop_to_aspect_ratio)
        if _checks.check_bool("Resizing", "pad_to_aspect_ratio", pad_to_aspect_ratio):
            raise NotImplementedError("Resizing: argument `pad_to_aspect_ratio`=True is not supported by dlc")
        if _checks.check_bool("Resizing", "antialias", antialias):
            raise NotImplementedError("Resizing: argument `antialias`=True is not supported by dlc")
        self.pad_to_aspect_ratio = self.antialias = False
        self.fill_mode = _choice("Resizing", "fill_mode", fill_mode, ["constant"])
        self.fill_value = _number("Resizing", "fill_value", fill_value)

    def compute_output_shape(self, input_shape):
        n, _, _, c = self._image_shape(input_shape)
        return (n, self.height, self.width, c)

    def forward(self, ctx, x, training):
        _, h, w, _ = x.shape
        box = aspect_crop_box(h, w, self.height, self.width) if self.crop_to_aspect_ratio else (0, 0, h, w)
        return _Resize.forward(ctx, x, box, (self.height, self.width), _INTERPOLATIONS[self.interpolation])

    def backward(self, ctx, dy, dx):
        _Resize.backward(ctx, dy, dx)


class CenterCrop(_ImageLayer):
    """Crops the central (height, width) window; an image smaller than it on a side is first
    cropped to the output's aspect ratio and resized (bilinear), as Keras.

    Example:

    >>> x = dlc.layers.CenterCrop(24, 24)(inputs)
    """

    _config = ("height", "width", "data_format")

    def __init__(self, height: int, width: int, data_format: Any = None, **kwargs: Any) -> None:
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = _positive("CenterCrop", "height", height), _positive("CenterCrop", "width", width)

    def compute_output_shape(self, input_shape):
        n, _, _, c = self._image_shape(input_shape)
        return (n, self.height, self.width, c)

    def forward(self, ctx, x, training):
        _, h, w, _ = x.shape
        if h >= self.height and w >= self.width:
            box = ((h - self.height) // 2, (w - self.width) // 2, self.height, self.width)
        else:
            box = aspect_crop_box(h, w, self.height, self.width)
        return _Resize.forward(ctx, x, box, (self.height, self.width), _INTERPOLATIONS["bilinear"])

    def backward(self, ctx, dy, dx):
        _Resize.backward(ctx, dy, dx)


# ================================================================ random geometric layers
_FILL_DOC = """fill_mode: how points outside the image are read: 'reflect' (default,
            d c b a | a b c d | d c b a), 'wrap' (a b c d | a b c d | a b c d), 'constant'
            (fill_value), 'nearest' (a a a a | a b c d | d d d d).
        interpolation: 'bilinear' (default) or 'nearest'.
        seed: optional int; by default drawn from dlc's seeded generator.
        fill_value: the value of 'constant' fill."""


class RandomFlip(_RandomWarp):
    """Randomly flips images during training (identity at inference).

    Args:
        mode: 'horizontal', 'vertical' or 'horizontal_and_vertical' (default). As Keras 3, one
            draw per image decides: with probability 1/2 the image is flipped along every axis
            `mode` names (in 'horizontal_and_vertical', both at once).
        seed: optional int; by default drawn from dlc's seeded generator.

    Example:

    >>> x = dlc.layers.RandomFlip("horizontal")(inputs)
    """

    _config = ("mode", "seed", "data_format")
    _UNIFORMS = 1
    _interp_for_warp = "nearest"  # integer coordinates: the flip is an exact copy

    def __init__(self, mode: str = "horizontal_and_vertical", seed: Optional[int] = None,
                 data_format: Any = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = _choice("RandomFlip", "mode", mode, ["horizontal", "vertical", "horizontal_and_vertical"])
        self.interpolation = "nearest"

    def _draw(self, u, h, w):
        return {"flips": u[:, 0] <= 0.5}

    def _rows(self, transformation, n, h, w):
        return flip_rows(_params(transformation, "flips", n, "RandomFlip") != 0, self.mode, h, w)


class RandomRotation(_RandomWarp):
    __doc__ = f"""Randomly rotates images during training (identity at inference).

    Args:
        factor: a fraction of a full turn: f rotates by an angle drawn from [-f * 360, f * 360]
            degrees, (a, b) from [a * 360, b * 360]; positive angles turn counter-clockwise.
        {_FILL_DOC}

    Example:

    >>> x = dlc.layers.RandomRotation(0.1)(inputs)  # up to +-36 degrees
    """

    _config = ("factor", "fill_mode", "interpolation", "seed", "fill_value", "data_format")
    _UNIFORMS = 1
    _list_keys = ("factor",)

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: Optional[int] = None, fill_value: float = 0.0, data_format: Any = None,
                 value_range: Any = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        _checks.refuse("RandomRotation", value_range=value_range)
        self.factor = factor
        self._lower, self._upper = _factor_pair("RandomRotation", "factor", factor, -1.0, 1.0)
        self._init_resampling(fill_mode, interpolation, fill_value)

    def _draw(self, u, h, w):
        lo, hi = self._lower * 360.0, self._upper * 360.0
        return {"angle": lo + u[:, 0] * (hi - lo)}

    def _rows(self, transformation, n, h, w):
        return rotation_rows(_params(transformation, "angle", n, "RandomRotation"), h, w)


class RandomZoom(_RandomWarp):
    __doc__ = f"""Randomly zooms images during training (identity at inference).

    Args:
        height_factor: a fraction of the height, f draws the zoom from [1 - f, 1 + f], (a, b)
            from [1 + a, 1 + b]; positive values zoom out, negative zoom in. In (-1, 1].
        width_factor: the same for the width; None (default) keeps the aspect ratio (the width
            zooms as the height).
        {_FILL_DOC}

    Example:

    >>> x = dlc.layers.RandomZoom(0.1)(inputs)
    """

    _config = ("height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value",
               "data_format")
    _UNIFORMS = 2
    _list_keys = ("height_factor", "width_factor")

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: Optional[int] = None, fill_value: float = 0.0,
                 data_format: Any = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_pair("RandomZoom", "height_factor", height_factor, -1.0, 1.0, low_open=True)
        self._w = None if width_factor is None else _factor_pair("RandomZoom", "width_factor", width_factor,
                                                                 -1.0, 1.0, low_open=True)
        self._init_resampling(fill_mode, interpolation, fill_value)

    def _draw(self, u, h, w):
        (hl, hu) = self._h
        hz = 1.0 + hl + u[:, 0] * (hu - hl)
        if self._w is None:
            return {"height_zoom": hz, "width_zoom": hz}
        wl, wu = self._w
        return {"height_zoom": hz, "width_zoom": 1.0 + wl + u[:, 1] * (wu - wl)}

    def _rows(self, transformation, n, h, w):
        return zoom_rows(_params(transformation, "height_zoom", n, "RandomZoom"),
                         _params(transformation, "width_zoom", n, "RandomZoom"), h, w)


class RandomTranslation(_RandomWarp):
    __doc__ = f"""Randomly translates images during training (identity at inference).

    Args:
        height_factor: a fraction of the height: f shifts vertically by a draw from
            [-f * height, f * height] pixels, (a, b) from [a * height, b * height]; in [-1, 1].
        width_factor: the same horizontally.
        {_FILL_DOC}

    Example:

    >>> x = dlc.layers.RandomTranslation(0.1, 0.1)(inputs)
    """

    _config = ("height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value",
               "data_format")
    _UNIFORMS = 2
    _list_keys = ("height_factor", "width_factor")

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: Optional[int] = None, fill_value: float = 0.0,
                 data_format: Any = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_pair("RandomTranslation", "height_factor", height_factor, -1.0, 1.0)
        self._w = _factor_pair("RandomTranslation", "width_factor", width_factor, -1.0, 1.0)
        self._init_resampling(fill_mode, interpolation, fill_value)

    def _draw(self, u, h, w):
        (hl, hu), (wl, wu) = self._h, self._w
        return {"translations": np.stack([(wl + u[:, 1] * (wu - wl)) * w,
                                          (hl + u[:, 0] * (hu - hl)) * h], axis=1)}

    def _rows(self, transformation, n, h, w):
        if not isinstance(transformation, dict) or "translations" not in transformation:
            raise ValueError("RandomTranslation.transform_images: the transformation must be a dict "
                             "with key 'translations' (n, 2) = (dx, dy) in pixels")
        tr = np.asarray(_to_numpy(transformation["translations"]), np.float64).reshape(-1, 2)
        if tr.shape[0] != n:
            raise ValueError(f"RandomTranslation.transform_images: transformation['translations'] "
                             f"must hold one (dx, dy) per image ({n}), received {tr.shape[0]}")
        return translation_rows(tr)


class RandomCrop(_RandomImageLayer):
    """Randomly crops a (height, width) window of each image during training.

    At inference, and in training when an image is smaller than the window on a side, the
    largest centred window of the output's aspect ratio is resized to (height, width), as
    Keras documents (Keras 3.15 returns the image uncropped at inference, keras-team/keras
    issue 21868). Each image gets its own window (Keras 3 draws one per batch).

    Args:
        height, width: the output size.
        seed: optional int; by default drawn from dlc's seeded generator.

    Example:

    >>> x = dlc.layers.RandomCrop(24, 24)(inputs)
    """

    _config = ("height", "width", "seed", "data_format")
    _UNIFORMS = 2

    def __init__(self, height: int, width: int, seed: Optional[int] = None, data_format: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height, self.width = _positive("RandomCrop", "height", height), _positive("RandomCrop", "width", width)

    def compute_output_shape(self, input_shape):
        n, _, _, c = self._image_shape(input_shape)
        return (n, self.height, self.width, c)

    def _fits(self, h: int, w: int) -> bool:
        return h >= self.height and w >= self.width

    def _draw(self, u, h, w):
        if not self._fits(h, w):
            return {"h_start": None, "w_start": None}
        return {"h_start": np.floor(u[:, 0] * (h - self.height + 1)),
                "w_start": np.floor(u[:, 1] * (w - self.width + 1))}

    def forward(self, ctx, x, training):
        if training and self._fits(x.shape[1], x.shape[2]):
            return super().forward(ctx, x, True)
        if training:
            self._step += 1  # the draw a training call makes, so steps count calls
        ctx.saved["active"] = False
        return self._inference(ctx, x)

    def _inference(self, ctx, x):
        _, h, w, _ = x.shape
        return _Resize.forward(ctx, x, aspect_crop_box(h, w, self.height, self.width),
                               (self.height, self.width), _INTERPOLATIONS["bilinear"])

    def _uninference(self, ctx, dy, dx):
        _Resize.backward(ctx, dy, dx)

    def _apply(self, ctx, x, transformation):
        n, h, w, _ = x.shape
        if isinstance(transformation, (tuple, list)) and len(transformation) == 2:  # Keras's
            transformation = {"h_start": transformation[0], "w_start": transformation[1]}
        if not self._fits(h, w) or transformation.get("h_start") is None:
            return self._inference(ctx, x)
        hs = _params(transformation, "h_start", n, "RandomCrop")
        ws = _params(transformation, "w_start", n, "RandomCrop")
        if np.any(hs < 0) or np.any(hs > h - self.height) or np.any(ws < 0) or np.any(ws > w - self.width):
            raise ValueError(f"RandomCrop.transform_images: the window ({self.height}, {self.width}) at "
                             f"(h_start, w_start) must lie inside the {h} x {w} image")
        rows = identity_rows(n)
        rows[:, 2], rows[:, 5] = ws, hs
        interp, fill = _INTERPOLATIONS["nearest"], _FILL_MODES["nearest"]
        y, t = _warp(ctx, "y", x, rows, (self.height, self.width), interp, fill, 0.0)
        ctx.saved.update(transform=t, interpolation=interp, fill_mode=fill)
        return y

    def _unapply(self, ctx, dy, dx):
        _warp_backward(ctx.saved, dy, dx)


# ================================================================ random intensity layers
def _value_range(fn: str, value_range: Any) -> Tuple[float, float]:
    if not isinstance(value_range, (list, tuple)) or len(value_range) != 2:
        raise ValueError(f"{fn}: argument `value_range` must be a pair (low, high), received "
                         f"{_checks.received(value_range)}")
    lo, hi = sorted(_number(fn, "value_range", v) for v in value_range)
    return lo, hi


class _RandomAdjust(_RandomImageLayer):
    """y = clip((x - mean) * factor + mean + delta, value_range) per image (csrc/image.c)."""

    _UNIFORMS = 1
    _list_keys = ("factor", "value_range")
    _center = False

    def _factors(self, transformation: Any, n: int) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _apply(self, ctx, x, transformation):
        n, h, w, c = x.shape
        factor, delta = (np.ascontiguousarray(a, np.float32) for a in self._factors(transformation, n))
        y = ctx.buf("y", x.shape)
        mean = ctx.buf("mean", (n, c))
        lo, hi = self._range
        _C.image_adjust_forward(x, factor, delta, y, mean, center=self._center, lo=lo, hi=hi)
        ctx.saved.update(x=x, factor=factor, delta=delta, mean=mean)
        return y

    def _unapply(self, ctx, dy, dx):
        s = ctx.saved
        lo, hi = self._range
        _C.image_adjust_backward(s["x"], s["factor"], s["delta"], s["mean"], np.ascontiguousarray(dy), dx,
                                 center=self._center, lo=lo, hi=hi)


class RandomContrast(_RandomAdjust):
    """Randomly changes the contrast of each image during training (identity at inference):
    `(x - mean) * f + mean`, the mean per image and channel, then clipped to `value_range`.

    Args:
        factor: f draws the contrast factor from [1 - f, 1 + f] (Keras's documented range;
            Keras 3.15's code draws from [1, 1 + f] for a single number), (a, b) from
            [1 - a, 1 + b]; values in [0, 1].
        value_range: the range of the pixel values, (0, 255) by default: outputs are clipped to it.
        seed: optional int; by default drawn from dlc's seeded generator.

    Example:

    >>> x = dlc.layers.RandomContrast(0.2, value_range=(0, 1))(inputs)
    """

    _config = ("factor", "value_range", "seed")
    _center = True

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self._lower, self._upper = _factor_pair("RandomContrast", "factor", factor, 0.0, 1.0, symmetric=False)
        self.value_range = tuple(value_range) if isinstance(value_range, list) else value_range
        self._range = _value_range("RandomContrast", value_range)

    def _draw(self, u, h, w):
        lo, hi = 1.0 - self._lower, 1.0 + self._upper
        return {"contrast_factor": lo + u[:, 0] * (hi - lo)}

    def _factors(self, transformation, n):
        return _params(transformation, "contrast_factor", n, "RandomContrast"), np.zeros(n)


class RandomBrightness(_RandomAdjust):
    """Randomly changes the brightness of each image during training (identity at inference):
    adds a delta drawn per image, then clips to `value_range`.

    Args:
        factor: a fraction of the value range: f draws the delta from [-f, f] times
            (high - low), (a, b) from [a, b] times it; values in [-1, 1].
        value_range: the range of the pixel values, (0, 255) by default.
        seed: optional int; by default drawn from dlc's seeded generator.

    Example:

    >>> x = dlc.layers.RandomBrightness(0.2, value_range=(0, 1))(inputs)
    """

    _config = ("factor", "value_range", "seed")

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self._lower, self._upper = _factor_pair("RandomBrightness", "factor", factor, -1.0, 1.0)
        self.value_range = tuple(value_range) if isinstance(value_range, list) else value_range
        self._range = _value_range("RandomBrightness", value_range)

    def _draw(self, u, h, w):
        lo, hi = self._range
        return {"rgb_delta": (self._lower + u[:, 0] * (self._upper - self._lower)) * (hi - lo)}

    def _factors(self, transformation, n):
        return np.ones(n), _params(transformation, "rgb_delta", n, "RandomBrightness")


__all__ = ["CenterCrop", "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop",
           "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing"]
