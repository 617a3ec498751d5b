#!/usr/bin/env python3
"""The `pytorch-cpu` bench strategy: the same style-transfer objective in native PyTorch on the CPU.

What a user without a GPU would pick instead of this project: PyTorch (Debian's python3-torch)
evaluating the loss and its gradient, scipy's fmin_l_bfgs_b driving the notebook's schedule.
Written from the math in /work/shared/DESIGN.md and src/style/config.ts, not from our kernels:

  features   VGG19 (Keras ImageNet weights, the same TF.js pack: weights_manifest.json + .bin
             shards, uint8-quantized layers dequantized as value = q * scale + min), 3x3 'same'
             convolutions + bias + ReLU, 2x2 stride-2 pooling (max; avg for the paper preset),
             input caffe BGR [H, W, 3] (RGB -> BGR, ImageNet mean subtracted), post-ReLU features.
  content    c * sum (F - P)^2 at the content layer, c = content_weight ('sum') or /2 ('half-sum')
  style      sum over style layers l of w_l * sum (G_l - A_l)^2, G = F^T F (no normalisation),
             w_l = style_weight * layer_weight_l / (4 * 9 * (H*W)^2)  (notebook: the input's H*W)
                                                  / (4 * C_l^2 * M_l^2) (paper: M_l = h*w of layer l)
  tv         tv_weight * sum_{i<H-1, j<W-1, c} ((x[i,j,c]-x[i+1,j,c])^2 + (x[i,j,c]-x[i,j+1,c])^2)^1.25
  gradient   autograd, with respect to x (float32 throughout, as ours).

It runs as a server so the benchmark can interleave its evaluations with ours: one JSON command
per line on stdin, one JSON answer per line on stdout (errors: {"error": "..."}).
  {"cmd": "setup", "H", "W", "cfg": {StyleConfig}, "content", "style", "x": float32 files [H, W, 3]}
      -> targets P and A computed once; {"ok", "torch", "threads", "seconds"}
  {"cmd": "run"}                   -> one evaluation at x: {"ms", "loss": {total, content, style, tv, styleLayers}}
  {"cmd": "result", "grad": path}  -> the last gradient written as float32 [H, W, 3] (BGR); {"loss"}
  {"cmd": "schedule", "rounds", "maxfun"}
      -> the notebook's schedule from x = content: `rounds` calls of
         scipy.optimize.fmin_l_bfgs_b(f, x, maxfun=maxfun) (default m=10, factr, pgtol), each
         starting from the previous result, f and its gradient in float64 as the notebook's
         Evaluator gives them; {"seconds", "evaluations", "nfev_per_round", "loss"}
  {"cmd": "quit"}
Usage: python3 bench/strategies/pytorch_cpu.py --weights DIR [--threads N]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

LAYERS = [  # (name, cin, cout, pool after)
    ("block1_conv1", 3, 64, False), ("block1_conv2", 64, 64, True),
    ("block2_conv1", 64, 128, False), ("block2_conv2", 128, 128, True),
    ("block3_conv1", 128, 256, False), ("block3_conv2", 256, 256, False),
    ("block3_conv3", 256, 256, False), ("block3_conv4", 256, 256, True),
    ("block4_conv1", 256, 512, False), ("block4_conv2", 512, 512, False),
    ("block4_conv3", 512, 512, False), ("block4_conv4", 512, 512, True),
    ("block5_conv1", 512, 512, False), ("block5_conv2", 512, 512, False),
    ("block5_conv3", 512, 512, False), ("block5_conv4", 512, 512, True),
]
INDEX = {name: i for i, (name, _, _, _) in enumerate(LAYERS)}


def load_weights(folder):
    """{layer: (kernel OIHW float32 tensor, bias float32 tensor)} from a TF.js weights manifest."""
    path = os.path.join(folder, "weights_manifest.json")
    if not os.path.exists(path):
        path = os.path.join(folder, "model.json")
    with open(path) as fh:
        manifest = json.load(fh)
    if isinstance(manifest, dict):
        manifest = manifest["weightsManifest"]
    tensors = {}
    for group in manifest:
        stream = b""
        for p in group["paths"]:
            fp = os.path.join(folder, p)
            if not os.path.exists(fp):
                break  # shards past the convolutions may be absent
            with open(fp, "rb") as fh:
                stream += fh.read()
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                dt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
            else:
                dt = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
            nbytes = count * np.dtype(dt).itemsize
            if offset + nbytes > len(stream):
                break
            raw = np.frombuffer(stream, dtype=np.dtype(dt).newbyteorder("<"), count=count, offset=offset)
            offset += nbytes
            if q and q["dtype"] in ("uint8", "uint16"):
                vals = raw.astype(np.float64) * q["scale"] + q["min"]  # as src/model/weights.ts
            else:
                vals = raw.astype(np.float64)
            tensors[w["name"]] = vals.astype(np.float32).reshape(w["shape"])
    out = {}
    for name, cin, cout, _ in LAYERS:
        k = tensors.get(f"{name}/kernel")
        b = tensors.get(f"{name}/bias")
        if k is None or b is None:
            raise ValueError(f"{path}: {name} is missing")
        if list(k.shape) != [3, 3, cin, cout]:
            raise ValueError(f"{path}: {name}/kernel has shape {list(k.shape)}, VGG19 needs [3, 3, {cin}, {cout}]")
        # HWIO -> OIHW, contiguous
        out[name] = (torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))), torch.from_numpy(b.copy()))
    return out


def to_tensor(hwc, H, W):
    """[H, W, 3] caffe BGR (numpy) -> [1, 3, H, W] float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(hwc.reshape(H, W, 3).transpose(2, 0, 1)[None], dtype=np.float32))


class Objective:
    def __init__(self, weights, cfg, H, W, content, style):
        self.w = weights
        self.cfg = cfg
        self.H, self.W = H, W
        self.layers = [cfg["contentLayer"], *cfg["styleLayers"]]
        self.deepest = max(INDEX[n] for n in self.layers)
        with torch.no_grad():
            fc = self.features(content)
            fs = self.features(style)
            self.P = fc[cfg["contentLayer"]].clone()
            self.A = [self.gram(fs[n]) for n in cfg["styleLayers"]]
        self.coef = cfg["contentWeight"] if cfg["contentLoss"] == "sum" else cfg["contentWeight"] / 2
        self.factors = []
        for k, n in enumerate(cfg["styleLayers"]):
            c = LAYERS[INDEX[n]][2]
            m = fs[n].shape[2] * fs[n].shape[3]
            w = cfg["styleWeight"] * cfg["styleLayerWeights"][k]
            self.factors.append(w / (4 * 9 * (H * W) ** 2) if cfg["styleNorm"] == "notebook" else w / (4 * c * c * m * m))

    def features(self, x):
        out = {}
        want = set(self.layers)
        for i, (name, _, _, pool) in enumerate(LAYERS[: self.deepest + 1]):
            k, b = self.w[name]
            x = F.relu(F.conv2d(x, k, b, padding=1))
            if name in want:
                out[name] = x
            if pool and i < self.deepest:
                x = F.max_pool2d(x, 2, 2) if self.cfg["pooling"] == "max" else F.avg_pool2d(x, 2, 2)
        return out

    @staticmethod
    def gram(f):
        c = f.shape[1]
        m = f.reshape(c, -1)
        return m @ m.t()

    def loss(self, x):
        """Loss terms (tensors) at x, [1, 3, H, W] with requires_grad."""
        f = self.features(x)
        content = self.coef * ((f[self.cfg["contentLayer"]] - self.P) ** 2).sum()
        layers = {}
        style = torch.zeros((), dtype=x.dtype)
        for k, n in enumerate(self.cfg["styleLayers"]):
            s = self.factors[k] * ((self.gram(f[n]) - self.A[k]) ** 2).sum()
            layers[n] = s
            style = style + s
        a = x[:, :, :-1, :-1] - x[:, :, 1:, :-1]
        b = x[:, :, :-1, :-1] - x[:, :, :-1, 1:]
        tv = self.cfg["tvWeight"] * ((a * a + b * b) ** 1.25).sum()
        return content + style + tv, content, style, tv, layers

    def evaluate(self, hwc):
        """(terms as floats, gradient [H, W, 3] float32 numpy) at x = hwc."""
        x = to_tensor(hwc, self.H, self.W).requires_grad_(True)
        total, content, style, tv, layers = self.loss(x)
        total.backward()
        terms = dict(total=float(total), content=float(content), style=float(style), tv=float(tv),
                     styleLayers={n: float(v) for n, v in layers.items()})
        return terms, x.grad[0].permute(1, 2, 0).contiguous().numpy()


def read_floats(path, n):
    a = np.fromfile(path, dtype="<f4")
    if a.size != n:
        raise ValueError(f"{path}: {a.size} floats, expected {n}")
    return a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    torch.set_num_threads(max(1, args.threads))
    torch.set_grad_enabled(True)
    weights = None
    obj = None
    x = None
    content = None
    last = None

    def answer(d):
        sys.stdout.write(json.dumps(d) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            c = cmd["cmd"]
            if c == "quit":
                answer({"ok": True})
                return
            if c == "setup":
                t0 = time.perf_counter()
                if weights is None:
                    weights = load_weights(args.weights)
                H, W = int(cmd["H"]), int(cmd["W"])
                n = H * W * 3
                content = read_floats(cmd["content"], n)
                style = read_floats(cmd["style"], n)
                x = read_floats(cmd["x"], n)
                obj = Objective(weights, cmd["cfg"], H, W, to_tensor(content, H, W), to_tensor(style, H, W))
                answer({"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                        "seconds": time.perf_counter() - t0})
            elif c == "run":
                t0 = time.perf_counter()
                last = obj.evaluate(x)
                answer({"ms": 1000 * (time.perf_counter() - t0), "loss": last[0]})
            elif c == "result":
                last[1].astype("<f4").tofile(cmd["grad"])
                answer({"loss": last[0]})
            elif c == "schedule":
                from scipy.optimize import fmin_l_bfgs_b
                import scipy
                count = [0]

                def fg(v):  # the notebook's Evaluator: loss and gradient together, float64 out
                    count[0] += 1
                    terms, g = obj.evaluate(v.astype(np.float32))
                    return terms["total"], g.reshape(-1).astype(np.float64)

                xs = content.astype(np.float64)
                per_round = []
                t0 = time.perf_counter()
                f = None
                for _ in range(int(cmd["rounds"])):
                    before = count[0]
                    xs, f, _info = fmin_l_bfgs_b(fg, xs.flatten(), maxfun=int(cmd["maxfun"]))
                    per_round.append(count[0] - before)
                answer({"seconds": time.perf_counter() - t0, "evaluations": count[0], "nfev_per_round": per_round,
                        "loss": float(f), "scipy": scipy.__version__})
            else:
                answer({"error": f"unknown command {c!r}"})
        except Exception as e:  # one line back, the bench reports it
            answer({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
