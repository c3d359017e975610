"""Fine-tunes a compressed student exported by `whittle distill-export`, by distillation from its
teacher's soft targets, with NumPy alone.

usage: train.py EXPORT_DIR TRANSFER.npz OUT.onnx [--epochs N] [--lr LR] [--seed S]

The student must be a chain of Gemm and Relu layers (an MLP such as digits_mlp); a pruned
weight arrives as Mul(W, mask) and keeps its zeros because the mask multiplies it in every
forward pass and its gradient. The loss is the one distill.json names:
    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)
TRANSFER.npz holds the inputs the export ran the teacher on (X, first axis = samples) and the
labels (y). OUT.onnx is student.onnx with the trained master weights.
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import numpy_helper


def layers(model):
    """The student as [(weight, mask or None, bias, alpha, beta, relu_after)], from its graph."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    result, value = [], graph.input[0].name
    consumers = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    while True:
        readers = [n for n in consumers.get(value, []) if n.op_type in ("Gemm", "Relu")]
        if not readers:
            break
        node = readers[0]
        if node.op_type == "Relu":
            if not result:
                raise SystemExit("train.py: the student must start with a Gemm")
            result[-1]["relu"] = True
        else:
            attrs = {a.name: a for a in node.attribute}
            if attrs.get("transA") and attrs["transA"].i:
                raise SystemExit("train.py: transposed Gemm inputs are not supported")
            weight, mask = node.input[1], None
            if weight not in inits:
                mul = producer.get(weight)
                if mul is None or mul.op_type != "Mul" or mul.input[0] not in inits or mul.input[1] not in inits:
                    raise SystemExit("train.py: Gemm %s: weights must be an initializer or Mul(W, mask)" % node.name)
                weight, mask = mul.input
            result.append({"node": node.name, "weight": weight, "mask": mask, "bias": node.input[2] if len(node.input) > 2 else None,
                           "transB": bool(attrs["transB"].i) if "transB" in attrs else False,
                           "alpha": attrs["alpha"].f if "alpha" in attrs else 1.0,
                           "beta": attrs["beta"].f if "beta" in attrs else 1.0, "relu": False})
        value = node.output[0]
    if not result:
        raise SystemExit("train.py: no Gemm/Relu chain found; this trainer covers MLP students")
    return result


def softmax(z, t=1.0):
    z = z / t
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("export")
    parser.add_argument("transfer")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    manifest = json.load(open(os.path.join(args.export, "distill.json")))
    model = onnx.load(os.path.join(args.export, manifest["student"]))
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in model.graph.initializer}
    chain = layers(model)
    data = np.load(args.transfer)
    x_all = data["X"].reshape(len(data["X"]), -1).astype(np.float32)
    labels = data["y"].astype(np.int64)
    soft = np.load(os.path.join(args.export, manifest["softTargetsFile"])).reshape(len(x_all), -1)
    t, alpha = manifest["temperature"], manifest["alpha"]

    # Parameters in [out, in] layout; masks keep pruned weights at zero.
    params = []
    for layer in chain:
        w = inits[layer["weight"]]
        m = inits[layer["mask"]] if layer["mask"] else np.ones_like(w)
        if not layer["transB"]:
            w, m = w.T.copy(), m.T.copy()
        b = inits[layer["bias"]].reshape(-1) if layer["bias"] else np.zeros(w.shape[0], np.float32)
        params.append({"w": w * m, "m": m, "b": b.copy(), "state": [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]})

    rng = np.random.default_rng(args.seed)
    step = 0
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_all))
        total = 0.0
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            acts = [x_all[idx]]
            for layer, p in zip(chain, params):
                z = layer["alpha"] * acts[-1] @ (p["w"] * p["m"]).T + layer["beta"] * p["b"]
                acts.append(np.maximum(z, 0) if layer["relu"] else z)
            logits = acts[-1]
            q_t, q = softmax(logits, t), softmax(logits)
            p_t = soft[idx]
            onehot = np.eye(logits.shape[1], dtype=np.float32)[labels[idx]]
            total += float(alpha * t * t * np.sum(p_t * (np.log(p_t + 1e-12) - np.log(q_t + 1e-12))) - (1 - alpha) * np.sum(onehot * np.log(q + 1e-12)))
            grad = (alpha * t * (q_t - p_t) + (1 - alpha) * (q - onehot)) / len(idx)
            step += 1
            for k in range(len(chain) - 1, -1, -1):
                layer, p = chain[k], params[k]
                if layer["relu"] and k == len(chain) - 1:
                    grad = grad * (acts[k + 1] > 0)
                gw = layer["alpha"] * grad.T @ acts[k] * p["m"]
                gb = layer["beta"] * grad.sum(axis=0)
                grad = layer["alpha"] * grad @ (p["w"] * p["m"])
                if k > 0 and chain[k - 1]["relu"]:
                    grad = grad * (acts[k] > 0)
                for value, g, first, second in ((p["w"], gw, 0, 1), (p["b"], gb, 2, 3)):
                    s = p["state"]
                    s[first] = 0.9 * s[first] + 0.1 * g
                    s[second] = 0.999 * s[second] + 0.001 * g * g
                    value -= args.lr * (s[first] / (1 - 0.9 ** step)) / (np.sqrt(s[second] / (1 - 0.999 ** step)) + 1e-8)
                p["w"] *= p["m"]
        print("epoch %d: loss %.4f" % (epoch + 1, total / len(x_all)))

    for layer, p in zip(chain, params):
        w = p["w"] if layer["transB"] else p["w"].T
        for t_ in model.graph.initializer:
            if t_.name == layer["weight"]:
                t_.CopyFrom(numpy_helper.from_array(w.astype(np.float32), t_.name))
            if layer["bias"] and t_.name == layer["bias"]:
                t_.CopyFrom(numpy_helper.from_array(p["b"].reshape(inits[layer["bias"]].shape).astype(np.float32), t_.name))
    onnx.save(model, args.out)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
