"""dlc beside its peers on the workloads of issue 11, in one run, on the same thread count.

Rows (pick with --rows, comma-separated keys):
  train128   CNN-MNIST train step, batch 128: the main job's network, dlc.examples.mnist_cnn's
             build_model (the Keras 2 mnist_cnn example: Conv 32 3x3 relu, Conv 64 3x3 relu,
             MaxPool 2, Dropout 0.25, Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax;
             1,199,882 parameters, 9.21 GFLOP per training step), Adam, categorical
             cross-entropy (torch: cross_entropy on the logits). --net mnist_convnet times
             keras-io's smaller mnist_convnet instead (Conv 32, MaxPool, Conv 64, MaxPool,
             Flatten, Dropout 0.5, Dense 10; 34,826 parameters) in every CNN-MNIST row
  train32    the same at batch 32
  predict1000  inference of that network on 1,000 images
  predict1   inference on one image
  inception128  train step of the homework's Inception network (dlc.examples.fashion_best's
             build_model without its augmentation layers; the same network in torch and Keras,
             parameter counts printed), batch 128, Adam
  epoch      one whole-epoch fit of CNN-MNIST on 60,000 random 28x28x1 images, batch 128
             (dlc and Keras: model.fit; torch: a plain shuffled training loop)

Peers: torch eager (NCHW), torch channels_last, torch.compile (its failure is reported where it
does not work), Keras 3 on TensorFlow, on JAX and on torch, and onnxruntime (the torch model
exported with torch.onnx.export) for the inference rows. dlc's predictions use the faster of
model.predict_on_batch(x) and model(x) (the label says which); so do Keras's.

How: every framework of a row runs in its own process (a worker of this script), started
together, built and warmed up, then timed in rounds that interleave the frameworks (the order
rotates each round), so load from other users of the machine falls on all of them alike. The
figure is the median of all timed repeats. Threads are pinned for everyone (--threads, default
2): dlc.set_num_threads, torch.set_num_threads / set_num_interop_threads, TF's intra/inter-op
threads, XLA's flags for JAX, onnxruntime's session options, and OMP/MKL environment variables.
Synthetic random data throughout. GFLOP per workload is counted analytically from dlc's layer
shapes (convolution and dense multiply-adds, x2; training = forward + weight gradients + input
gradients except for the first layer's input); '%FMA' is that rate as a fraction of the FMA
ceiling measured by building and running shared/tools/peak_flops.c with gcc, for dlc and for the
best peer. Peers that cannot be imported are reported as not installed, with the reason.

Run:  python benchmarks/bench_peers.py [--rows train128,predict1] [--quick] [--repeats 5]
          [--rounds 3] [--dlc-tree PATH] [--peers-python PATH]
The peers' interpreter needs numpy, torch, keras 3, tensorflow, jax, onnx and onnxruntime;
dlc runs in the current interpreter, imported from --dlc-tree (default: this repository, built
in place). Not part of the test suite: timings on a shared machine are noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import REPO, fma_ceiling, mnist_batch, pinned_env, time_calls  # noqa: E402

TORCHES = ["torch", "torch-cl", "torch-compile"]
KERASES = ["keras-tensorflow", "keras-jax", "keras-torch"]
ROWS = {  # key: (title, batch, frameworks)
    "train128": ("CNN-MNIST train step, batch 128, Adam", 128, ["dlc", *TORCHES, *KERASES]),
    "train32": ("CNN-MNIST train step, batch 32, Adam", 32, ["dlc", *TORCHES, *KERASES]),
    "predict1000": ("CNN-MNIST predict, batch 1000", 1000, ["dlc", *TORCHES, *KERASES, "onnxruntime"]),
    "predict1": ("CNN-MNIST predict, one image", 1, ["dlc", *TORCHES, *KERASES, "onnxruntime"]),
    "inception128": ("Inception (fashion_best, no augmentation) train step, batch 128, Adam", 128,
                     ["dlc", *TORCHES, *KERASES]),
    "epoch": ("CNN-MNIST fit, one epoch of 60,000 images, batch 128", 128, ["dlc", "torch", *KERASES]),
}
LABELS = {"torch": "eager NCHW", "torch-cl": "eager channels_last", "torch-compile": "torch.compile",
          "keras-tensorflow": "on TensorFlow", "keras-jax": "on JAX", "keras-torch": "on torch"}
EPOCH_IMAGES, QUICK_EPOCH_IMAGES = 60000, 6400


# ----------------------------------------------------------------------------- models
def convnet(L, sequential, net="main"):
    """The CNN-MNIST network with the layers module and Sequential class of dlc or Keras: the
    main job's (`net="main"`, the very code of dlc.examples.mnist_cnn.build_model, its module
    globals pointed at Keras for Keras) or keras-io's mnist_convnet."""
    if net == "main":
        from dlc.examples import mnist_cnn as mc

        for name in ("Conv2D", "Dense", "Dropout", "Flatten", "MaxPooling2D"):
            setattr(mc, name, getattr(L, name))
        mc.Sequential = sequential
        return mc.build_model((28, 28, 1), 10)
    return sequential([
        L.Input(shape=(28, 28, 1)),
        L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Flatten(), L.Dropout(0.5), L.Dense(10, activation="softmax")])


def inception(keras=None):
    """dlc.examples.fashion_best.build_model without augmentation; with `keras` given, the very
    same code builds the Keras model (its module globals pointed at keras)."""
    from types import SimpleNamespace

    from dlc.examples import fashion_best as fb

    fb.augmentation = lambda: None
    if keras is not None:
        fb.layers, fb.dlc = keras.layers, SimpleNamespace(Model=keras.Model)
    return fb.build_model()


def torch_nets(torch):
    nn, F = torch.nn, torch.nn.functional

    class ConvNet(nn.Module):  # keras-io's mnist_convnet
        def __init__(self):
            super().__init__()
            self.c1, self.c2, self.d = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3), nn.Linear(1600, 10)

        def forward(self, t):  # logits; nn.Flatten of NCHW: Dense weights differ in order only
            t = F.max_pool2d(torch.relu(self.c1(t)), 2)
            t = F.max_pool2d(torch.relu(self.c2(t)), 2)
            return self.d(F.dropout(t.flatten(1), 0.5, self.training))

    class MainNet(nn.Module):  # the main job's network (dlc.examples.mnist_cnn.build_model)
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
            self.d1, self.d2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, t):  # logits
            t = F.max_pool2d(torch.relu(self.c2(torch.relu(self.c1(t)))), 2)
            t = torch.relu(self.d1(F.dropout(t, 0.25, self.training).flatten(1)))
            return self.d2(F.dropout(t, 0.5, self.training))

    class ConvBN(nn.Sequential):
        def __init__(self, cin, cout, k):
            super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
                             nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.ReLU())

    class Module(nn.Module):
        def __init__(self, cin, f1, f3r, f3, f5r, f5, fp):
            super().__init__()
            self.b1 = ConvBN(cin, f1, 1)
            self.b3 = nn.Sequential(ConvBN(cin, f3r, 1), ConvBN(f3r, f3, 3))
            self.b5 = nn.Sequential(ConvBN(cin, f5r, 1), ConvBN(f5r, f5, 5))
            self.bp = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), ConvBN(cin, fp, 1))

        def forward(self, t):
            return torch.cat([self.b1(t), self.b3(t), self.b5(t), self.bp(t)], 1)

    class Inception(nn.Sequential):
        def __init__(self):
            super().__init__(ConvBN(1, 48, 3), nn.MaxPool2d(2), Module(48, 24, 24, 32, 8, 8, 16),
                             Module(80, 32, 32, 48, 8, 16, 16), nn.MaxPool2d(2), ConvBN(112, 128, 3),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, 10))

    return {"main": MainNet, "mnist_convnet": ConvNet}, Inception


def dlc_flop(model, batch: int, train: bool) -> float:
    """Multiply-adds x 2 of the convolutions and dense layers, from the layer shapes; training
    adds the weight gradients and the input gradients (none for a layer fed by the model input)."""
    from dlc import layers as L

    model_inputs = {id(t) for t in model.inputs}
    total = 0.0
    for node in model._nodes:
        layer = node.layer
        if isinstance(layer, L.Conv2D):
            kh, kw, cin, oc = layer.kernel.shape
            macs = float(np.prod(node.output.shape[1:3])) * kh * kw * cin * oc
        elif isinstance(layer, L.Dense):
            macs = float(np.prod(node.output.shape[1:-1] or [1])) * layer.kernel.shape[0] * layer.kernel.shape[1]
        else:
            continue
        passes = 1 if not train else (2 if id(node.inputs[0]) in model_inputs else 3)
        total += 2 * macs * passes * batch
    return total


# ----------------------------------------------------------------------------- the worker
def faster_call(model, x):
    """(name, function) of the faster public way to predict: predict_on_batch(x) or model(x)."""
    ways = {"predict_on_batch": lambda: model.predict_on_batch(x), "model(x)": lambda: model(x, training=False)}
    best = {}
    for name, fn in ways.items():
        try:
            best[name] = statistics.median(time_calls(fn, 2, 5))
        except Exception:  # a way that does not accept this input is not a candidate
            pass
    name = min(best, key=best.get)
    return name, ways[name]


def setup(fw: str, row: str, threads: int, quick: bool, cnn: str = "main"):
    """(info, step) for one framework and row in this process; step() is what gets timed."""
    title, b, _ = ROWS[row]
    train = row.startswith(("train", "inception"))
    x, y = mnist_batch(EPOCH_IMAGES if row == "epoch" and not quick else QUICK_EPOCH_IMAGES if row == "epoch" else b)
    info = {}
    if fw == "dlc":
        import dlc

        dlc.set_num_threads(threads)
        m = inception() if row == "inception128" else convnet(dlc.layers, dlc.models.Sequential, cnn)
        info["label"] = f"dlc {dlc.__version__} ({dlc.cpu_features()['simd']})"
        info["flop"] = dlc_flop(m, len(x) if row == "epoch" else b, train or row == "epoch")
        return info, keras_like_step(m, dlc.optimizers.Adam(), row, x, y, info)
    if fw.startswith("keras"):
        backend = fw.split("-")[1]
        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            ver = f"TF {tf.__version__}"
        elif backend == "jax":
            import jax

            ver = f"JAX {jax.__version__}"
        else:
            import torch

            torch.set_num_threads(threads)
            ver = f"torch {torch.__version__}"
        import keras

        assert keras.backend.backend() == backend, keras.backend.backend()
        m = inception(keras) if row == "inception128" else convnet(keras.layers, keras.Sequential, cnn)
        info["label"] = f"keras {keras.__version__} on {ver}"
        return info, keras_like_step(m, keras.optimizers.Adam(), row, x, y, info)
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass
    cnns, Inception = torch_nets(torch)
    net = Inception() if row == "inception128" else cnns[cnn]()
    info["params"] = sum(p.numel() for p in net.parameters()) + sum(
        v.numel() for k, v in net.named_buffers() if not k.endswith("num_batches_tracked"))
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    if fw == "onnxruntime":
        return info, onnx_step(torch, net, xt, threads, info)
    info["label"] = f"torch {torch.__version__} {LABELS[fw]}"
    if fw == "torch-cl":
        net, xt = net.to(memory_format=torch.channels_last), xt.contiguous(memory_format=torch.channels_last)
    fwd = torch.compile(net) if fw == "torch-compile" else net
    if not train and row != "epoch":
        net.eval()

        def predict():
            with torch.inference_mode():
                return torch.softmax(fwd(xt), 1)
        return info, predict
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    yt = torch.from_numpy(y.argmax(1))

    def tstep(xb=xt, yb=yt):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(fwd(xb), yb).backward()
        opt.step()
    if row != "epoch":
        return info, tstep

    def epoch():
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), b):
            idx = perm[i:i + b]
            tstep(xt[idx], yt[idx])
    for i in range(10):  # warm-up steps: the timed call is a whole epoch
        tstep(xt[i * b:(i + 1) * b], yt[i * b:(i + 1) * b])
    return info, epoch


def keras_like_step(m, optimizer, row, x, y, info):
    """The step of a dlc or Keras model (their APIs agree): train_on_batch, predict or fit."""
    info["params"] = int(m.count_params())
    if row.startswith("predict"):
        way, fn = faster_call(m, x)
        info["label"] += f", {way}"
        return fn
    m.compile(optimizer=optimizer, loss="categorical_crossentropy")
    if row != "epoch":
        return lambda: m.train_on_batch(x, y)
    m.fit(x[:1280], y[:1280], batch_size=128, epochs=1, verbose=0)  # warm-up (tracing, buffers)
    return lambda: m.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=True)


def onnx_step(torch, net, xt, threads, info):
    import onnx  # noqa: F401  (torch.onnx.export needs it)
    import onnxruntime as ort

    class WithSoftmax(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, t):
            return torch.softmax(self.inner(t), 1)

    model = WithSoftmax(net).eval()
    path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    kwargs = dict(input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    try:
        torch.onnx.export(model, (xt[:1],), path, dynamo=False, **kwargs)
    except TypeError:  # an exporter without the dynamo switch
        torch.onnx.export(model, (xt[:1],), path, **kwargs)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    info["label"] = f"onnxruntime {ort.__version__} (torch.onnx.export)"
    feed = {"x": xt.numpy()}
    return lambda: sess.run(None, feed)


def worker(fw: str, row: str, threads: int, quick: bool, net: str) -> None:
    """Build, warm up, say '@@ready', then answer 'run N' with N timings (ms) until 'quit'."""
    def say(kind, value):
        print(f"@@{kind} {json.dumps(value)}", flush=True)
    try:
        info, step = setup(fw, row, threads, quick, net)
    except ImportError as e:
        say("missing", f"{type(e).__name__}: {e}")
        return
    warmup = 1 if row == "epoch" else (2 if quick else 3)
    for _ in range(0 if row == "epoch" else warmup):
        step()
    say("ready", info)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        say("times", time_calls(step, 0, int(cmd[1])))


# ----------------------------------------------------------------------------- the driver
class Child:
    """One worker process: its framework, stderr file, and the state of its answers."""

    def __init__(self, python, fw, row, args, env):
        self.fw, self.times, self.info, self.error = fw, [], None, None
        self.err = tempfile.TemporaryFile(mode="w+")
        cmd = [python, os.path.abspath(__file__), "--worker", fw, "--row", row, "--threads", str(args.threads)]
        cmd += ["--net", args.net] + (["--quick"] if args.quick else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                     text=True, env=env)

    def read(self):
        """The next '@@kind value' line, or records why the worker stopped."""
        for line in self.proc.stdout:
            if line.startswith("@@"):
                kind, _, value = line[2:].partition(" ")
                if kind == "missing":
                    self.error = f"not installed ({json.loads(value)})"
                    return None
                return json.loads(value)
        self.proc.wait()
        self.err.seek(0)
        lines = [ln for ln in self.err.read().strip().splitlines() if ln.strip()]
        self.error = f"failed: {lines[-1][:160] if lines else 'exit status %s' % self.proc.returncode}"
        return None

    def ask(self, n):
        if self.error is None:
            self.proc.stdin.write(f"run {n}\n")
            self.proc.stdin.flush()
            got = self.read()
            if got is not None:
                self.times += got

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def run_row(row, args, ceiling):
    title, b, fws = ROWS[row]
    rounds, repeats = (1, 1) if row == "epoch" and args.quick else (args.rounds, args.repeats)
    if row == "epoch":
        rounds, repeats = min(rounds, args.epoch_rounds), 1
    if args.frameworks:
        fws = [fw for fw in fws if fw in args.frameworks.split(",")]
    children = []
    for fw in fws:
        python = sys.executable if fw == "dlc" else args.peers_python
        backend = fw.split("-")[1] if fw.startswith("keras") else None
        env = pinned_env(args.threads, backend)
        env["PYTHONPATH"] = os.pathsep.join([args.dlc_tree, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        children.append(Child(python, fw, row, args, env))
    for c in children:  # all build and warm up together, before anything is timed
        c.info = c.read()
    for r in range(rounds):
        for c in children[r % len(children):] + children[:r % len(children)]:
            c.ask(repeats)
    for c in children:
        c.close()

    images = (QUICK_EPOCH_IMAGES if args.quick else EPOCH_IMAGES) if row == "epoch" else b
    flop = next((c.info.get("flop") for c in children if c.fw == "dlc" and c.info), None)
    head = f"{title}" + (f" ({images:,} images in --quick)" if row == "epoch" and args.quick else "")
    head += f"  [{flop / 1e9:.2f} GFLOP]" if flop else ""
    print(f"\n{head}\n  {rounds} round(s) x {repeats} timed repeat(s) per framework, median")
    ms = {c.fw: statistics.median(c.times) for c in children if c.times}
    dlc_ms = ms.get("dlc")
    peers = {k: v for k, v in ms.items() if k != "dlc"}
    best = min(peers, key=peers.get) if peers else None
    unit = "s" if row == "epoch" else "ms"
    print(f"  {'framework':<58}{unit:>10}{'vs dlc':>9}{'%FMA':>7}{'params':>9}")
    for c in children:
        name = (c.info or {}).get("label", c.fw)
        if c.fw not in ms:
            print(f"  {name:<58}  {c.error or 'no timings'}")
            continue
        v = ms[c.fw]
        shown = v / 1e3 if row == "epoch" else v
        ratio = f"{v / dlc_ms:8.2f}x" if dlc_ms else f"{'-':>9}"
        frac = (f"{100 * flop / (v / 1e3) / 1e9 / ceiling:6.1f}%" if flop and ceiling and c.fw in ("dlc", best)
                else f"{'':>7}")
        params = c.info.get("params", "")
        star = " *" if c.fw == best else ""
        print(f"  {name + star:<58}{shown:10.3f}{ratio}{frac}{params:>9}")
    counts = {c.info["params"] for c in children if c.info and "params" in c.info}
    if len(counts) > 1:
        print(f"  note: parameter counts differ: {sorted(counts)}")
    if row.startswith("predict"):
        print("  (* best peer; torch peers: inference_mode forward + softmax)")
    else:
        print("  (* best peer)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {','.join(ROWS)}")
    ap.add_argument("--quick", action="store_true", help="1 round, few repeats, a 6,400-image epoch")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per framework per round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--epoch-rounds", type=int, default=2, help="timed epochs per framework (epoch row)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frameworks", default="",
                    help="comma-separated subset (dlc,torch,torch-cl,torch-compile,keras-tensorflow,"
                         "keras-jax,keras-torch,onnxruntime); default: all of each row's")
    ap.add_argument("--net", choices=("main", "mnist_convnet"), default="main",
                    help="the CNN-MNIST rows' network: the main job's (default) or keras-io's mnist_convnet")
    ap.add_argument("--dlc-tree", default=REPO, help="the dlc tree to import (built in place)")
    # the peers' interpreter: $DLC_PEERS_PYTHON, else a venv-peers beside the clone or in the
    # home folder, else this interpreter
    candidates = [os.environ.get("DLC_PEERS_PYTHON", ""),
                  os.path.join(os.path.dirname(REPO), "venv-peers", "bin", "python"),
                  os.path.expanduser(os.path.join("~", "venv-peers", "bin", "python"))]
    default_peers = next((c for c in candidates if c and os.path.exists(c)), sys.executable)
    ap.add_argument("--peers-python", default=default_peers,
                    help="interpreter with the peers installed (default: %(default)s)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--row", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.row, args.threads, args.quick, args.net)
        return
    if args.quick:
        args.rounds, args.repeats = 1, min(args.repeats, 3)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}; choose from {','.join(ROWS)}")
    args.dlc_tree = os.path.abspath(args.dlc_tree)
    ceiling, how = fma_ceiling(args.threads)
    start = time.time()
    print(f"dlc peer benchmark  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  threads={args.threads}")
    print(f"CNN-MNIST network: {'the main job (dlc.examples.mnist_cnn)' if args.net == 'main' else 'mnist_convnet'}")
    print(f"dlc tree: {args.dlc_tree} (python {sys.executable})\npeers python: {args.peers_python}")
    print(f"FMA ceiling: {f'{ceiling:.1f} GFLOP/s' if ceiling else 'not measured'} ({how})")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for row in rows:
        run_row(row, args, ceiling)
    print(f"\nwall time {time.time() - start:.0f} s; load average at end: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
