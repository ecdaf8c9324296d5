"""End-to-end training speed of the Keras CNN-MNIST network: dlc beside PyTorch (eager,
channels-last as well as its default layout) and Keras 3 (torch backend), on the same thread
count, in one run. Prints milliseconds per training step (batch 128, forward + backward +
Adadelta update) and images per second.

Run: python benchmarks/bench_train.py [--threads N] [--steps 30]
Each framework is timed in its own subprocess: torch and dlc bring different OpenMP runtimes,
whose spinning worker threads would otherwise compete for the same cores. Never part of the
test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import child_answer, mnist_batch, time_steps  # noqa: E402


def dlc_model():
    import dlc
    from dlc import layers as L

    m = dlc.models.Sequential([
        L.Input(shape=(28, 28, 1)),
        L.Conv2D(32, (3, 3), activation="relu"), L.Conv2D(64, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)), L.Dropout(0.25), L.Flatten(), L.Dense(128, activation="relu"),
        L.Dropout(0.5), L.Dense(10, activation="softmax")])
    m.compile(loss="categorical_crossentropy", optimizer=dlc.optimizers.Adadelta(learning_rate=1.0))
    return m


def measure(which: str, threads: int, steps: int, b: int) -> tuple:
    """(label, ms per step) for one framework, in this process."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    x, y = mnist_batch(b)
    if which == "dlc":
        import dlc

        dlc.set_num_threads(threads)
        m = dlc_model()
        return f"dlc {dlc.__version__} ({dlc.cpu_features()['simd']})", time_steps(lambda: m.train_on_batch(x, y), 3, steps)
    import torch

    torch.set_num_threads(threads)
    if which.startswith("torch"):
        fmt = which.split(":")[1]

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.c1, self.c2 = torch.nn.Conv2d(1, 32, 3), torch.nn.Conv2d(32, 64, 3)
                self.d1, self.d2 = torch.nn.Linear(9216, 128), torch.nn.Linear(128, 10)

            def forward(self, t):
                t = torch.relu(self.c2(torch.relu(self.c1(t))))
                t = torch.nn.functional.dropout(torch.nn.functional.max_pool2d(t, 2), 0.25, self.training)
                t = torch.nn.functional.dropout(torch.relu(self.d1(t.flatten(1))), 0.5, self.training)
                return self.d2(t)

        net = Net()
        opt = torch.optim.Adadelta(net.parameters(), lr=1.0, rho=0.95, eps=1e-7)
        xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
        if fmt == "channels_last":
            net = net.to(memory_format=torch.channels_last)
            xt = xt.to(memory_format=torch.channels_last)
        yt = torch.tensor(y.argmax(1))

        def tstep():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xt), yt)
            loss.backward()
            opt.step()

        return f"torch {torch.__version__} ({fmt})", time_steps(tstep, 3, steps)
    import keras

    km = keras.Sequential([
        keras.layers.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"), keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)), keras.layers.Dropout(0.25), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax")])
    km.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adadelta(learning_rate=1.0))
    return f"keras {keras.__version__} (torch backend)", time_steps(lambda: km.train_on_batch(x, y), 3, steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--only", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only:
        print(json.dumps(measure(args.only, args.threads, args.steps, args.batch)))
        return
    rows = []
    for which in ("dlc", "torch:nchw", "torch:channels_last", "keras"):
        proc = subprocess.run([sys.executable, __file__, "--only", which, "--threads", str(args.threads),
                               "--steps", str(args.steps), "--batch", str(args.batch)],
                              capture_output=True, text=True)
        ok, answer = child_answer(proc)
        rows.append(tuple(answer) if ok else (f"{which} (failed: {answer})", float("nan")))
    b = args.batch
    print(f"CNN-MNIST training step (forward, backward, Adadelta update), batch {b}, {args.threads} thread(s), "
          f"median of {args.steps} steps, each framework in its own process")
    print(f"{'framework':<40} {'ms/step':>9} {'images/s':>10} {'vs dlc':>8}")
    base = rows[0][1]
    for name, ms in rows:
        print(f"{name:<40} {ms:9.2f} {b / ms * 1e3:10.0f} {ms / base:7.2f}x")
    print(f"one 60,000-image epoch = {int(np.ceil(60000 / b))} steps; dlc: {base * np.ceil(60000 / b) / 1e3:.1f} s")


if __name__ == "__main__":
    main()
