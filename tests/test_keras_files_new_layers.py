"""Keras 3's .keras files both ways for the layers and losses Keras 3 also has (LayerNormalization,
SpatialDropout1D/2D, GaussianNoise, GaussianDropout; Huber and the other new losses in the
compile config): dlc's files load in Keras with the same predictions and loss, Keras's load in
dlc."""
import numpy as np
import pytest

import dlc
from conftest import keras, requires_keras

pytestmark = requires_keras


def build(lib):
    Lk = lib.layers
    inp = Lk.Input((6, 6, 3))
    x = Lk.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = Lk.SpatialDropout2D(0.2, seed=1)(x)
    x = Lk.LayerNormalization(axis=[1, 2, 3])(x)
    x = Lk.GaussianNoise(0.1, seed=2)(x)
    x = Lk.Reshape((36, 4))(x)
    x = Lk.SpatialDropout1D(0.1)(x)
    x = Lk.LayerNormalization(epsilon=1e-5, center=False)(x)
    x = Lk.Flatten()(x)
    x = Lk.GaussianDropout(0.3)(x)
    return lib.models.Model(inp, Lk.Dense(2)(x))


@pytest.mark.parametrize("loss", ["huber", "mae", "log_cosh", "kld", "cosine_similarity"])
def test_files_both_ways(tmp_path, rng, loss):
    model = build(dlc)
    model.set_weights([w + rng.uniform(-0.2, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
    model.compile(optimizer="adam", loss=dlc.losses.Huber(delta=0.5) if loss == "huber" else loss)
    x = rng.standard_normal((5, 6, 6, 3)).astype(np.float32)
    y = np.abs(rng.standard_normal((5, 2))).astype(np.float32)
    y /= y.sum(axis=1, keepdims=True)
    expected = model.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    k = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(k.predict(x, verbose=0)), expected, rtol=1e-5, atol=1e-5)
    assert float(k.evaluate(x, y, verbose=0)) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5, abs=1e-6)
    k.save(str(tmp_path / "k.keras"))
    again = dlc.models.load_model(str(tmp_path / "k.keras"))
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    # Keras's own reload of its file is the reference: Keras 3's Huber.get_config() leaves delta out,
    # so its file says delta=1.0 and both libraries read it so
    k_again = keras.models.load_model(str(tmp_path / "k.keras"))
    assert again.evaluate(x, y, verbose=0) == pytest.approx(float(k_again.evaluate(x, y, verbose=0)), rel=1e-5,
                                                            abs=1e-6)
    if loss == "huber":
        assert type(again.loss).__name__ == "Huber" and again.loss.delta == 1.0
