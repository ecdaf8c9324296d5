"""`keras.preprocessing.image`: Keras 2's ImageDataGenerator, which most course material still
uses, and the image helpers (img_to_array, array_to_img, load_img, save_img, smart_resize).

`ImageDataGenerator(...).flow(x, y)` returns a `dlc.utils.PyDataset` that `model.fit` takes
directly. Each batch is augmented by one call of dlc's warp kernel (`_C.image_warp_forward`,
csrc/image.c) with one matrix per image, built exactly as Keras 2's `apply_affine_transform`
builds it (rotation, shift, shear and zoom about the centre, then the flips), so the geometry is
Keras 2's. The resampling reads points outside the image through the fill mode per pixel tap,
as Keras 3's layers do: identical to Keras 2 (scipy.ndimage) for 'nearest' (the default) and
inside the image, and within the last pixel of the border for 'reflect', 'constant' and 'wrap'
(scipy's 'wrap' repeats with period n - 1; dlc's, like Keras 3's, with period n).

Randomness: the parameters of image j of the array in epoch e come from a counter-based stream
keyed by (seed, e, j), so they depend neither on the batch order `fit` chooses nor on threads;
`flow(seed=...)` (or `dlc.utils.set_random_seed` before `flow`) makes a run repeatable.

Example:

>>> datagen = ImageDataGenerator(rotation_range=10, width_shift_range=0.1,
...                              height_shift_range=0.1, zoom_range=0.1, rescale=1 / 255)
>>> model.fit(datagen.flow(x_train, y_train, batch_size=32), epochs=5)
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from dlc import _C, _checks, _random
from dlc.utils import PyDataset

_FILL = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}
_PER_IMAGE = 12  # uniforms drawn per image (see ImageDataGenerator._parameters)


# ====================================================================== Keras 2's matrices
def transform_matrix_offset_center(matrix: np.ndarray, x: float, y: float) -> np.ndarray:
    """Keras 2's helper: `matrix` (3, 3) applied about the centre (x / 2 - 0.5, y / 2 - 0.5)."""
    o_x, o_y = float(x) / 2 - 0.5, float(y) / 2 - 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return offset @ matrix @ reset


def _stack3(rows: Sequence[Sequence[Any]]) -> np.ndarray:
    """(n, 3, 3) from nested rows of per-image arrays (or numbers)."""
    cols = [np.broadcast_arrays(*[np.asarray(v, np.float64) for v in row]) for row in rows]
    return np.stack([np.stack(r, axis=-1) for r in cols], axis=-2)


def scipy_affine(theta: Any = 0.0, tx: Any = 0.0, ty: Any = 0.0, shear: Any = 0.0, zx: Any = 1.0,
                 zy: Any = 1.0, h: int = 1, w: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """The (matrix (n, 2, 2), offset (n, 2)) Keras 2's `apply_affine_transform` hands
    scipy.ndimage.affine_transform for images (h, w, channels), in float64: output pixel
    (row, col) reads the input at matrix @ (row, col) + offset. Angles are in degrees; tx is
    Keras 2's shift from height_shift_range, ty from width_shift_range. Vectorised over images."""
    theta, tx, ty, shear, zx, zy = np.broadcast_arrays(
        *[np.atleast_1d(np.asarray(v, np.float64)) for v in (theta, tx, ty, shear, zx, zy)])
    t, s = np.deg2rad(theta), np.deg2rad(shear)
    zero, one = np.zeros_like(t), np.ones_like(t)
    rotation = _stack3([[np.cos(t), -np.sin(t), zero], [np.sin(t), np.cos(t), zero], [zero, zero, one]])
    shift = _stack3([[one, zero, tx], [zero, one, ty], [zero, zero, one]])
    shearing = _stack3([[one, -np.sin(s), zero], [zero, np.cos(s), zero], [zero, zero, one]])
    zoom = _stack3([[zx, zero, zero], [zero, zy, zero], [zero, zero, one]])
    m = rotation @ shift @ shearing @ zoom  # Keras 2's order (an identity factor changes nothing)
    o_x, o_y = float(h) / 2 - 0.5, float(w) / 2 - 0.5
    m = _stack3([[one, zero, o_x + zero], [zero, one, o_y + zero], [zero, zero, one]]) @ m @ \
        _stack3([[one, zero, -o_x + zero], [zero, one, -o_y + zero], [zero, zero, one]])
    m = m[:, [1, 0, 2]][:, :, [1, 0, 2]]  # Keras 2 swaps x and y for (row, col) arrays
    return m[:, :2, :2], m[:, :2, 2]


def warp_rows(matrix: np.ndarray, offset: np.ndarray, h: int, w: int, flip_horizontal: Any = False,
              flip_vertical: Any = False) -> np.ndarray:
    """dlc's (n, 8) transform rows (`_C.image_warp_forward`'s layout, x = column, y = row) of
    scipy's (matrix, offset), followed by Keras 2's flips of the output."""
    matrix, offset = np.asarray(matrix, np.float64), np.asarray(offset, np.float64)
    n = matrix.shape[0]
    rows = np.zeros((n, 8))
    rows[:, 0], rows[:, 1], rows[:, 2] = matrix[:, 1, 1], matrix[:, 1, 0], offset[:, 1]
    rows[:, 3], rows[:, 4], rows[:, 5] = matrix[:, 0, 1], matrix[:, 0, 0], offset[:, 0]
    fh = np.broadcast_to(np.asarray(flip_horizontal, bool), (n,))
    fv = np.broadcast_to(np.asarray(flip_vertical, bool), (n,))
    for flip, col, size in ((fh, 0, w), (fv, 1, h)):  # x -> w - 1 - x (or y -> h - 1 - y)
        rows[flip, 2] += rows[flip, col] * (size - 1)
        rows[flip, 5] += rows[flip, 3 + col] * (size - 1)
        rows[flip, col] *= -1
        rows[flip, 3 + col] *= -1
    return rows


def _warp_images(x: np.ndarray, rows: np.ndarray, order: int, fill_mode: str, cval: float) -> np.ndarray:
    y = np.empty_like(x)
    _C.image_warp_forward(x, np.ascontiguousarray(rows, np.float32), y, interpolation=order,
                          fill_mode=_FILL[fill_mode], fill_value=float(cval))
    return y


def apply_affine_transform(x: Any, theta: float = 0, tx: float = 0, ty: float = 0, shear: float = 0,
                           zx: float = 1, zy: float = 1, row_axis: int = 1, col_axis: int = 2,
                           channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
                           order: int = 1) -> np.ndarray:
    """Keras 2's `apply_affine_transform` of one image (3-D, channels first by default as in
    Keras 2, or last): rotation `theta` and `shear` in degrees, shifts tx (rows) and ty
    (columns) in pixels, zooms zx, zy; on dlc's warp kernel (see the module's note on borders)."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"apply_affine_transform: `x` must be one image with 3 dimensions, received "
                         f"shape {x.shape}")
    if sorted((row_axis, col_axis, channel_axis)) != [0, 1, 2] or channel_axis not in (0, 2):
        raise ValueError(f"apply_affine_transform: `row_axis`, `col_axis`, `channel_axis` must be a "
                         f"permutation of 0, 1, 2 with channels first or last, received "
                         f"{(row_axis, col_axis, channel_axis)}")
    _check_fill("apply_affine_transform", fill_mode)
    order = _check_order("apply_affine_transform", "order", order)
    img = np.ascontiguousarray(np.transpose(x, (row_axis, col_axis, channel_axis)), np.float32)
    h, w = img.shape[:2]
    matrix, offset = scipy_affine(theta, tx, ty, shear, zx, zy, h, w)
    if col_axis < row_axis:  # Keras 2 swaps only when columns come after rows
        matrix, offset = matrix[:, ::-1, ::-1], offset[:, ::-1]
    y = _warp_images(img[None], warp_rows(matrix, offset, h, w), order, fill_mode, cval)[0]
    return np.transpose(y, np.argsort((row_axis, col_axis, channel_axis))).astype(x.dtype if x.dtype.kind == "f" else np.float32)


def _check_fill(fn: str, fill_mode: Any) -> str:
    if fill_mode not in _FILL:
        raise ValueError(f"{fn}: argument `fill_mode` must be one of {sorted(_FILL)}, received "
                         f"{_checks.received(fill_mode)}")
    return fill_mode


def _check_order(fn: str, name: str, order: Any) -> int:
    if isinstance(order, bool) or order not in (0, 1):
        raise NotImplementedError(f"{fn}: argument `{name}`={order!r} is not supported by dlc (0: nearest, "
                                  f"1: bilinear; spline orders 2 to 5 are not)")
    return int(order)


def _range_value(fn: str, name: str, value: Any) -> Any:
    """A shift range: a number, or a 1-D list of numbers (Keras 2's choices)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value, np.float64)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"ImageDataGenerator: argument `{name}` must be a number or a 1-D list of "
                             f"numbers, received {_checks.received(value)}")
        return arr
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise ValueError(f"{fn}: argument `{name}` must be a number, received {_checks.received(value)}")
    return value


# ====================================================================== ImageDataGenerator
class ImageDataGenerator:
    """Keras 2's real-time image augmentation: random rotations, shifts, shears, zooms and flips
    on NumPy batches, with rescaling and feature-wise / sample-wise normalisation.

    Args:
        featurewise_center, featurewise_std_normalization: subtract the per-channel mean and
            divide by the per-channel standard deviation that `fit(x)` computed.
        samplewise_center, samplewise_std_normalization: the same with each image's own mean
            and standard deviation.
        rotation_range: degrees; each image turns by a draw from [-range, range].
        width_shift_range, height_shift_range: a float < 1 is a fraction of the width (height),
            >= 1 pixels, drawn from [-range, range]; an int n draws an integer from (-n, n); a
            list draws one of its values with a random sign (Keras 2's rules).
        shear_range: degrees, counter-clockwise shear drawn from [-range, range].
        zoom_range: f draws zooms from [1 - f, 1 + f] (each axis its own), [a, b] from [a, b].
        channel_shift_range: adds a draw from [-range, range] to every channel, clipped to the
            image's range.
        fill_mode: 'nearest' (default), 'constant' (cval), 'reflect' or 'wrap'.
        cval: the 'constant' fill value.
        horizontal_flip, vertical_flip: flip half of the images.
        rescale: a factor multiplying the images after the augmentation.
        preprocessing_function: called on each augmented image (3-D), before rescale.
        validation_split: the fraction `flow(subset='validation')` takes (the first rows).
        interpolation_order: 1 (bilinear, default) or 0 (nearest).

    Not supported (they raise NotImplementedError): zca_whitening, brightness_range,
    channels-first data, spline orders above 1, flow_from_directory, flow_from_dataframe.

    Example:

    >>> datagen = ImageDataGenerator(rotation_range=15, horizontal_flip=True, validation_split=0.2)
    >>> model.fit(datagen.flow(x, y, subset="training"), validation_data=datagen.flow(x, y, subset="validation"))
    """

    def __init__(self, featurewise_center: bool = False, samplewise_center: bool = False,
                 featurewise_std_normalization: bool = False, samplewise_std_normalization: bool = False,
                 zca_whitening: bool = False, zca_epsilon: float = 1e-6, rotation_range: float = 0,
                 width_shift_range: Any = 0.0, height_shift_range: Any = 0.0, brightness_range: Any = None,
                 shear_range: float = 0.0, zoom_range: Any = 0.0, channel_shift_range: float = 0.0,
                 fill_mode: str = "nearest", cval: float = 0.0, horizontal_flip: bool = False,
                 vertical_flip: bool = False, rescale: Any = None,
                 preprocessing_function: Optional[Callable] = None, data_format: Any = None,
                 validation_split: float = 0.0, interpolation_order: int = 1, dtype: Any = None) -> None:
        fn = "ImageDataGenerator"
        if zca_whitening:
            raise NotImplementedError(f"{fn}: argument `zca_whitening`=True is not supported by dlc")
        _checks.refuse(fn, brightness_range=brightness_range)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{fn}: dlc is channels-last only, received data_format={data_format!r}")
        if dtype not in (None, "float32", np.float32) and getattr(dtype, "name", None) != "float32":
            raise NotImplementedError(f"{fn}: dlc computes in float32, received dtype={dtype!r}")
        self.featurewise_center = _checks.check_bool(fn, "featurewise_center", featurewise_center)
        self.samplewise_center = _checks.check_bool(fn, "samplewise_center", samplewise_center)
        self.featurewise_std_normalization = _checks.check_bool(fn, "featurewise_std_normalization",
                                                                featurewise_std_normalization)
        self.samplewise_std_normalization = _checks.check_bool(fn, "samplewise_std_normalization",
                                                               samplewise_std_normalization)
        self.zca_whitening, self.zca_epsilon, self.brightness_range = False, zca_epsilon, None
        self.rotation_range = float(_range_value(fn, "rotation_range", rotation_range))
        self.width_shift_range = _range_value(fn, "width_shift_range", width_shift_range)
        self.height_shift_range = _range_value(fn, "height_shift_range", height_shift_range)
        self.shear_range = float(_range_value(fn, "shear_range", shear_range))
        self.channel_shift_range = float(_range_value(fn, "channel_shift_range", channel_shift_range))
        self.fill_mode = _check_fill(fn, fill_mode)
        self.cval = float(_range_value(fn, "cval", cval))
        self.horizontal_flip = _checks.check_bool(fn, "horizontal_flip", horizontal_flip)
        self.vertical_flip = _checks.check_bool(fn, "vertical_flip", vertical_flip)
        self.rescale = rescale if rescale is None else float(_range_value(fn, "rescale", rescale))
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise TypeError(f"{fn}: argument `preprocessing_function` must be callable, received "
                            f"{_checks.received(preprocessing_function)}")
        self.preprocessing_function = preprocessing_function
        self.data_format, self.dtype = "channels_last", "float32"
        self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        self.interpolation_order = _check_order(fn, "interpolation_order", interpolation_order)
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"{fn}: `validation_split` must be strictly between 0 and 1, received "
                             f"{_checks.received(validation_split)}")
        self._validation_split = float(validation_split)
        if isinstance(zoom_range, (float, int)) and not isinstance(zoom_range, bool):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif isinstance(zoom_range, (list, tuple)) and len(zoom_range) == 2 and all(
                isinstance(v, (float, int)) and not isinstance(v, bool) for v in zoom_range):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(f"{fn}: `zoom_range` should be a float or a tuple or list of two floats, "
                             f"received {_checks.received(zoom_range)}")
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, which "
                          "overrides setting of `featurewise_center`.")
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, which "
                          "overrides setting of `samplewise_center`.")
        self.mean: Optional[np.ndarray] = None
        self.std: Optional[np.ndarray] = None
        self.zca_whitening_matrix = None

    # ---------------------------------------------------------------- random parameters
    def _shift(self, rng_value: Any, u_value: np.ndarray, u_choice: np.ndarray, u_sign: np.ndarray,
               size: int) -> np.ndarray:
        """Keras 2's shift rule, vectorised: an int or a list draws one of its values (int n:
        0 .. n - 1) with a random sign, a float draws from [-r, r]; ranges below 1 scale by
        the size."""
        if isinstance(rng_value, np.ndarray) or (isinstance(rng_value, (int, np.integer))
                                                 and not isinstance(rng_value, bool)):
            choices = rng_value if isinstance(rng_value, np.ndarray) else np.arange(int(rng_value), dtype=np.float64)
            pick = choices[np.minimum((u_choice * choices.size).astype(np.int64), choices.size - 1)]
            t = pick * np.where(u_sign < 0.5, -1.0, 1.0)
        else:
            r = float(rng_value)
            t = -r + u_value * 2 * r
        if np.max(rng_value) < 1:
            t = t * size
        return t

    def _parameters(self, u: np.ndarray, h: int, w: int) -> Dict[str, np.ndarray]:
        """Keras 2's get_random_transform for n images from uniforms u (n, _PER_IMAGE)."""
        n = u.shape[0]
        zero = np.zeros(n)
        rr, (z0, z1) = self.rotation_range, self.zoom_range
        p: Dict[str, np.ndarray] = {
            "theta": -rr + u[:, 0] * 2 * rr if rr else zero,
            "tx": self._shift(self.height_shift_range, u[:, 1], u[:, 1], u[:, 2], h)
            if np.any(self.height_shift_range) else zero,
            "ty": self._shift(self.width_shift_range, u[:, 3], u[:, 3], u[:, 4], w)
            if np.any(self.width_shift_range) else zero,
            "shear": -self.shear_range + u[:, 5] * 2 * self.shear_range if self.shear_range else zero,
            "zx": z0 + u[:, 6] * (z1 - z0) if (z0, z1) != (1, 1) else zero + 1,
            "zy": z0 + u[:, 7] * (z1 - z0) if (z0, z1) != (1, 1) else zero + 1,
            "flip_horizontal": (u[:, 8] < 0.5) & self.horizontal_flip,
            "flip_vertical": (u[:, 9] < 0.5) & self.vertical_flip,
        }
        if self.channel_shift_range:
            p["channel_shift_intensity"] = -self.channel_shift_range + u[:, 10] * 2 * self.channel_shift_range
        return p

    def _uniforms(self, n: int, seed: int, step: int) -> np.ndarray:
        u = np.empty((n, _PER_IMAGE), np.float32)
        if n:
            _C.philox_uniform(u, seed=seed, step=step)
        return u.astype(np.float64)

    def get_random_transform(self, img_shape: Sequence[int], seed: Optional[int] = None) -> Dict[str, Any]:
        """Random parameters for one image of `img_shape` (h, w, channels), Keras 2's keys."""
        seed = _random.next_seed() if seed is None else _checks.check_int("get_random_transform", "seed", seed, 0)
        p = self._parameters(self._uniforms(1, seed, 0), int(img_shape[0]), int(img_shape[1]))
        out = {k: (bool(v[0]) if v.dtype == bool else float(v[0])) for k, v in p.items()}
        out.setdefault("channel_shift_intensity", None)
        out["brightness"] = None
        return out

    # ---------------------------------------------------------------- transforms
    def _augment(self, x: np.ndarray, params: Dict[str, np.ndarray]) -> np.ndarray:
        """Keras 2's apply_transform of a batch (n, h, w, c) float32: the affine warp (flips
        folded into its matrices), then the channel shift."""
        n, h, w, _ = x.shape
        matrix, offset = scipy_affine(params["theta"], params["tx"], params["ty"], params["shear"],
                                      params["zx"], params["zy"], h, w)
        matrix = np.broadcast_to(matrix, (n, 2, 2))
        offset = np.broadcast_to(offset, (n, 2))
        rows = warp_rows(matrix, offset, h, w, params.get("flip_horizontal", False),
                         params.get("flip_vertical", False))
        ident = np.zeros(8)
        ident[0] = ident[4] = 1
        y = x.copy() if np.all(rows == ident) else _warp_images(x, rows, self.interpolation_order,
                                                                self.fill_mode, self.cval)
        shift = params.get("channel_shift_intensity")
        if shift is not None:
            lo, hi = y.min(axis=(1, 2, 3), keepdims=True), y.max(axis=(1, 2, 3), keepdims=True)
            y = np.clip(y + np.asarray(shift, np.float32).reshape(-1, 1, 1, 1), lo, hi).astype(np.float32)
        return y

    def apply_transform(self, x: Any, transform_parameters: Dict[str, Any]) -> np.ndarray:
        """One image (h, w, c) transformed by the given parameters (Keras 2's keys 'theta',
        'tx', 'ty', 'shear', 'zx', 'zy', 'flip_horizontal', 'flip_vertical',
        'channel_shift_intensity'; 'brightness' must be None)."""
        if transform_parameters.get("brightness") is not None:
            raise NotImplementedError("apply_transform: the 'brightness' parameter is not supported by dlc")
        img = np.ascontiguousarray(x, np.float32)
        if img.ndim != 3:
            raise ValueError(f"apply_transform: `x` must be one image (h, w, channels), received shape {img.shape}")
        defaults = {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0,
                    "flip_horizontal": False, "flip_vertical": False}
        params = {k: np.atleast_1d(np.asarray(transform_parameters.get(k, v))) for k, v in defaults.items()}
        if transform_parameters.get("channel_shift_intensity") is not None:
            params["channel_shift_intensity"] = np.atleast_1d(transform_parameters["channel_shift_intensity"])
        return self._augment(img[None], params)[0]

    def random_transform(self, x: Any, seed: Optional[int] = None) -> np.ndarray:
        """One image (h, w, c) randomly transformed."""
        img = np.asarray(x)
        return self.apply_transform(img, self.get_random_transform(img.shape, seed))

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Keras 2's standardize of a float32 image or batch, in place where possible:
        preprocessing_function (per image), rescale, sample-wise then feature-wise
        normalisation."""
        if self.preprocessing_function is not None:
            if x.ndim == 4:
                x = np.stack([np.asarray(self.preprocessing_function(img), np.float32) for img in x])
            else:
                x = np.asarray(self.preprocessing_function(x), np.float32)
        if self.rescale:
            x *= np.float32(self.rescale)
        axes = tuple(range(x.ndim - 3, x.ndim))
        if self.samplewise_center:
            x -= np.mean(x, axis=axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, axis=axes, keepdims=True) + 1e-6
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_center`, but it hasn't "
                              "been fit on any training data. Fit it first by calling `.fit(numpy_data)`.")
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= self.std + 1e-6
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, but it "
                              "hasn't been fit on any training data. Fit it first by calling "
                              "`.fit(numpy_data)`.")
        return x

    def _batch(self, x: np.ndarray, index: np.ndarray, seed: int, step: int,
               stream: Optional[np.ndarray] = None) -> np.ndarray:
        """Augmented and standardized images x (n, h, w, c); image i uses row index[i] of the
        (seed, step) stream."""
        x = np.ascontiguousarray(x, np.float32)
        if stream is None:
            stream = self._uniforms(int(index.max()) + 1 if index.size else 0, seed, step)
        params = self._parameters(stream[index], x.shape[1], x.shape[2])
        return self.standardize(self._augment(x, params))

    def fit(self, x: Any, augment: bool = False, rounds: int = 1, seed: Optional[int] = None) -> None:
        """Computes the per-channel mean and standard deviation of `x` (n, h, w, c) that
        featurewise normalisation uses (after `rescale`; over `rounds` augmented copies when
        `augment`). Statistics are accumulated in float64."""
        x = np.asarray(x, np.float32)
        if x.ndim != 4:
            raise ValueError(f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}")
        _warn_channels(x, "fit")
        rounds = _checks.check_int("fit", "rounds", rounds, 1)
        x = np.array(x, np.float32, copy=True)
        if self.rescale:
            x *= np.float32(self.rescale)
        if augment:
            seed = _random.next_seed() if seed is None else _checks.check_int("fit", "seed", seed, 0)
            aug = [self._augment(x, self._parameters(self._uniforms(x.shape[0], seed, r), x.shape[1], x.shape[2]))
                   for r in range(rounds)]
            x = np.concatenate(aug)
        if self.featurewise_center:
            self.mean = x.astype(np.float64).mean(axis=(0, 1, 2)).reshape(1, 1, -1).astype(np.float32)
            x = x - self.mean
        if self.featurewise_std_normalization:
            self.std = x.astype(np.float64).std(axis=(0, 1, 2)).reshape(1, 1, -1).astype(np.float32)

    # ---------------------------------------------------------------- iterators
    def flow(self, x: Any, y: Any = None, batch_size: int = 32, shuffle: bool = True,
             sample_weight: Any = None, seed: Optional[int] = None, save_to_dir: Any = None,
             save_prefix: str = "", save_format: str = "png", ignore_class_split: bool = False,
             subset: Optional[str] = None) -> "NumpyArrayIterator":
        """A PyDataset of augmented batches `(x, y)` (`(x, y, sample_weight)`, or `x` without y)
        for `model.fit`. `subset` 'training' / 'validation' takes the split `validation_split`
        sets (the validation rows first, as Keras 2)."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle,
                                  sample_weight=sample_weight, seed=seed, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format, subset=subset,
                                  ignore_class_split=ignore_class_split)

    def flow_from_directory(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ImageDataGenerator.flow_from_directory is not supported by dlc: load the "
                                  "images into an array (dlc.preprocessing.image.load_img / img_to_array) "
                                  "and use flow(x, y)")

    def flow_from_dataframe(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ImageDataGenerator.flow_from_dataframe is not supported by dlc: load the "
                                  "images into an array and use flow(x, y)")


def _warn_channels(x: np.ndarray, where: str) -> None:
    if x.shape[3] not in (1, 3, 4):
        warnings.warn(f"{where}: expected images with 1, 3 or 4 channels on axis 3 (channels last), "
                      f"received an array of shape {x.shape} ({x.shape[3]} channels)")


class Iterator(PyDataset):
    """Keras 2's base of the image iterators: `len()` batches of `batch_size` out of `n`
    samples, in a new order each epoch when `shuffle`, also iterable (`next(it)` cycles for
    ever). Subclasses implement `_get_batches_of_transformed_samples(index_array)`."""

    white_list_formats = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: Optional[int]) -> None:
        super().__init__()
        self.n = int(n)
        self.batch_size = _checks.check_int(type(self).__name__, "batch_size", batch_size, 1)
        self.shuffle = _checks.check_bool(type(self).__name__, "shuffle", shuffle)
        self.seed = seed if seed is None else _checks.check_int(type(self).__name__, "seed", seed, 0)
        self._key = _random.next_seed() if seed is None else self.seed
        self.epoch = 0  # advanced by on_epoch_end; keys the epoch's draws and order
        self.batch_index = 0
        self.total_batches_seen = 0
        self.index_array: Optional[np.ndarray] = None

    def _set_index_array(self) -> None:
        if self.shuffle:
            self.index_array = np.random.default_rng([self._key, self.epoch]).permutation(self.n)
        else:
            self.index_array = np.arange(self.n)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, idx: int) -> Any:
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or not 0 <= idx < len(self):
            raise ValueError(f"Asked to retrieve element {idx!r}, but the Sequence has length {len(self)}")
        if self.index_array is None:
            self._set_index_array()
        self.total_batches_seen += 1
        return self._get_batches_of_transformed_samples(
            self.index_array[self.batch_size * int(idx):self.batch_size * (int(idx) + 1)])

    def on_epoch_end(self) -> None:
        """The next epoch: new draws and, when shuffling, a new order."""
        self.epoch += 1
        self.index_array = None

    def reset(self) -> None:
        self.batch_index = 0

    def __iter__(self) -> "Iterator":
        return self

    def __next__(self) -> Any:
        if self.n == 0:
            raise StopIteration
        batch = self[self.batch_index]
        self.batch_index += 1
        if self.batch_index >= len(self):
            self.batch_index = 0
            self.on_epoch_end()
        return batch

    next = __next__  # Keras 2's spelling

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray) -> Any:
        raise NotImplementedError


class NumpyArrayIterator(Iterator):
    """The iterator `ImageDataGenerator.flow` returns: batches of augmented images from an array
    (n, h, w, c), with their targets and sample weights."""

    def __init__(self, x: Any, y: Any, image_data_generator: ImageDataGenerator, batch_size: int = 32,
                 shuffle: bool = False, sample_weight: Any = None, seed: Optional[int] = None,
                 data_format: Any = None, save_to_dir: Any = None, save_prefix: str = "",
                 save_format: str = "png", subset: Optional[str] = None, ignore_class_split: bool = False,
                 dtype: Any = None) -> None:
        fn = "flow"
        if isinstance(x, (tuple, list)):
            raise NotImplementedError(f"{fn}: `x` as a list or tuple (images and extra inputs) is not "
                                      f"supported by dlc; pass the image array")
        _checks.refuse(fn, save_to_dir=save_to_dir)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{fn}: dlc is channels-last only, received data_format={data_format!r}")
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"Input data in `NumpyArrayIterator` should have rank 4. You passed an array "
                             f"with shape {x.shape}")
        if y is not None and len(x) != len(y):
            raise ValueError(f"`x` (images tensor) and `y` (labels) should have the same length. Found: "
                             f"x.shape = {x.shape}, y.shape = {np.asarray(y).shape}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError(f"`x` (images tensor) and `sample_weight` should have the same length. Found: "
                             f"x.shape = {x.shape}, sample_weight.shape = {np.asarray(sample_weight).shape}")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f"Invalid subset name: {subset!r}; expected 'training' or 'validation'.")
            split = int(len(x) * image_data_generator._validation_split)
            if y is not None and not ignore_class_split and not np.array_equal(
                    np.unique(np.asarray(y)[:split]), np.unique(np.asarray(y)[split:])):
                raise ValueError("Training and validation subsets have different number of classes after the "
                                 "split. If your numpy arrays are sorted by the label, you might want to "
                                 "shuffle them.")
            part = slice(None, split) if subset == "validation" else slice(split, None)
            x = x[part]
            y = None if y is None else np.asarray(y)[part]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[part]
        _warn_channels(x, fn)
        self.x = x
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        self.data_format, self.dtype = "channels_last", "float32"
        self.save_to_dir, self.save_prefix, self.save_format = None, save_prefix, save_format
        self._stream: Tuple[int, Optional[np.ndarray]] = (-1, None)
        super().__init__(x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray) -> Any:
        if self._stream[0] != self.epoch:  # the epoch's draws: row j for image j of x
            self._stream = (self.epoch, self.image_data_generator._uniforms(self.n, self._key, self.epoch))
        batch_x = self.image_data_generator._batch(self.x[index_array], index_array, self._key, self.epoch,
                                                   self._stream[1])
        if self.y is None:
            return batch_x
        out = (batch_x, self.y[index_array])
        if self.sample_weight is not None:
            out += (self.sample_weight[index_array],)
        return out


# ====================================================================== image helpers
def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("this function needs Pillow (the PIL package), which is not installed: "
                          "pip install pillow") from None
    return Image


def img_to_array(img: Any, data_format: Any = None, dtype: Any = None) -> np.ndarray:
    """A PIL image (or anything NumPy takes) as a float32 array (h, w, channels)."""
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"img_to_array: dlc is channels-last only, received data_format={data_format!r}")
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        return x.reshape(x.shape + (1,))
    if x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def array_to_img(x: Any, data_format: Any = None, scale: bool = True, dtype: Any = None) -> Any:
    """A 3-D array (h, w, 1 | 3 | 4) as a PIL image; `scale` maps its range to [0, 255].
    Needs Pillow."""
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"array_to_img: dlc is channels-last only, received data_format={data_format!r}")
    try:
        Image = _pil()
    except ImportError:
        raise ImportError("array_to_img needs Pillow (the PIL package), which is not installed: "
                          "pip install pillow") from None
    x = np.array(x, dtype=dtype or "float32", copy=True)
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if scale:
        x -= np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    if x.shape[2] == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if x.shape[2] == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if x.shape[2] == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {x.shape[2]}")


def load_img(path: Any, color_mode: str = "rgb", target_size: Optional[Tuple[int, int]] = None,
             interpolation: str = "nearest", keep_aspect_ratio: bool = False) -> Any:
    """Loads an image file as a PIL image ('grayscale', 'rgb' or 'rgba'), resized to
    target_size (height, width) when given. Needs Pillow."""
    Image = _pil()
    if keep_aspect_ratio:
        raise NotImplementedError("load_img: argument `keep_aspect_ratio`=True is not supported by dlc")
    modes = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
    if color_mode not in modes:
        raise ValueError(f"load_img: argument `color_mode` must be one of {sorted(modes)}, received {color_mode!r}")
    filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
               "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}
    if interpolation not in filters:
        raise ValueError(f"load_img: argument `interpolation` must be one of {sorted(filters)}, received "
                         f"{interpolation!r}")
    with open(os.fspath(path), "rb") as f:
        img = Image.open(f)
        img.load()
    if img.mode != modes[color_mode]:
        img = img.convert(modes[color_mode])
    if target_size is not None:
        size = (int(target_size[1]), int(target_size[0]))
        if img.size != size:
            img = img.resize(size, filters[interpolation])
    return img


def save_img(path: Any, x: Any, data_format: Any = None, file_format: Optional[str] = None,
             scale: bool = True, **kwargs: Any) -> None:
    """Saves a 3-D array as an image file (through array_to_img). Needs Pillow."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and (file_format == "jpeg" or str(path).lower().endswith((".jpg", ".jpeg"))):
        warnings.warn("The JPG format does not support RGBA images, converting to RGB.")
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def smart_resize(x: Any, size: Tuple[int, int], interpolation: str = "bilinear",
                 data_format: str = "channels_last", **kwargs: Any) -> np.ndarray:
    """Resizes an image (h, w, c) or a batch to `size` without distorting it: the largest centred
    window of the target aspect ratio, resized (Keras's smart_resize, dlc's warp kernel)."""
    from dlc.layers.preprocessing import Resizing

    if kwargs:
        raise TypeError(f"smart_resize() got unexpected keyword arguments: {sorted(kwargs)}")
    if data_format != "channels_last":
        raise NotImplementedError(f"smart_resize: dlc is channels-last only, received data_format={data_format!r}")
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"Expected an image array with shape `(height, width, channels)`, or `(batch_size, "
                         f"height, width, channels)`, but got input with incorrect rank, of shape {x.shape}.")
    return Resizing(int(size[0]), int(size[1]), interpolation=interpolation, crop_to_aspect_ratio=True)(x)


__all__ = ["ImageDataGenerator", "Iterator", "NumpyArrayIterator", "apply_affine_transform", "array_to_img",
           "img_to_array", "load_img", "save_img", "smart_resize", "transform_matrix_offset_center"]


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
