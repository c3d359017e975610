"""Random valid ONNX graphs over the operators Whittle compiles, for differential testing.

Each model is built from a seed: a pool of float tensors with static shapes grows as random
operators (element-wise, broadcasting binaries, convolutions, pooling, matrix products,
normalizations, reductions, data movement, int8 QDQ islands and fusion-prone chains) are applied
to tensors in it. Inputs keep values in ranges where every operator is smooth (no division by
values near zero, no logarithm of non-positive values), so float results of different
implementations differ only by rounding.
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 20


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.initializers, self.pool = [], [], []
        self.count = 0
        # Tensors whose values are never negative (safe for Sqrt) or bounded (safe for Exp).
        self.nonnegative, self.bounded = set(), set()

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, array, base="c"):
        name = self.name(base)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def floats(self, shape, scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def node(self, op, inputs, attrs=None, outputs=1):
        names = [self.name(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=self.name("n_" + op), **(attrs or {})))
        return names if outputs > 1 else names[0]

    def add(self, name, shape, nonnegative=False, bounded=False):
        self.pool.append((name, tuple(shape)))
        if nonnegative:
            self.nonnegative.add(name)
        if bounded:
            self.bounded.add(name)
        return name, tuple(shape)

    def pick(self, rank=None, min_rank=None):
        choices = [t for t in self.pool if (rank is None or len(t[1]) == rank) and (min_rank is None or len(t[1]) >= min_rank)]
        if not choices:
            return None
        # Recent tensors are likelier: graphs become chains with branches, not flat fans.
        weights = np.arange(1, len(choices) + 1, dtype=float) ** 2
        return choices[self.rng.choice(len(choices), p=weights / weights.sum())]

    def choice(self, values):
        return values[self.rng.integers(len(values))]


UNARY = ["Relu", "Sigmoid", "Tanh", "Abs", "Neg", "LeakyRelu", "Elu", "HardSigmoid", "HardSwish", "Softplus", "Softsign",
         "Erf", "Sin", "Cos", "Selu", "Gelu", "Clip", "Exp", "Sqrt", "Log", "Reciprocal", "Mish", "Celu", "ThresholdedRelu",
         "Shrink", "Atan", "Asinh", "Sinh", "Cosh", "Asin", "Acos"]


def unary(b):
    x, shape = b.pick()
    op = b.choice(UNARY)
    attrs = {}
    if op == "LeakyRelu":
        attrs = {"alpha": float(b.rng.uniform(0.01, 0.3))}
    elif op == "Elu":
        attrs = {"alpha": float(b.rng.uniform(0.5, 1.5))}
    elif op == "HardSigmoid":
        attrs = {"alpha": float(b.rng.uniform(0.1, 0.3)), "beta": 0.5}
    if op == "Clip":
        low = float(b.rng.uniform(-1.5, 0))
        y = b.node("Clip", [x, b.const(np.array(low, np.float32)), b.const(np.array(low + b.rng.uniform(0.5, 3), np.float32))])
        return b.add(y, shape, bounded=True)
    if op in ("Exp", "Sinh", "Cosh") and x not in b.bounded:
        x = b.node("Tanh", [x])
    if op in ("Asin", "Acos"):
        # Inside [-1, 1], away from the ends where the derivative blows up.
        x = b.node("Mul", [b.node("Tanh", [x]), b.const(np.array(0.9, np.float32))])
    if op == "Celu":
        attrs = {"alpha": float(b.rng.uniform(0.5, 2))}
    elif op == "ThresholdedRelu":
        attrs = {"alpha": float(b.rng.uniform(0, 1))}
    elif op == "Shrink":
        attrs = {"lambd": float(b.rng.uniform(0.1, 1)), "bias": float(b.rng.uniform(0, 0.5))}
    if op in ("Sqrt",) and x not in b.nonnegative:
        x = b.node("Abs", [x])
    if op in ("Log", "Reciprocal"):
        # Away from zero: |x| + 0.5.
        x = b.node("Add", [b.node("Abs", [x]), b.const(np.array(0.5, np.float32))])
    y = b.node(op, [x], attrs)
    bounded = op in ("Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Softsign", "Erf", "Sin", "Cos", "Relu")
    return b.add(y, shape, nonnegative=op in ("Relu", "Sigmoid", "Abs", "Softplus", "Exp", "Sqrt", "HardSigmoid"), bounded=bounded and op != "Relu")


def broadcast_shape(b, shape):
    """A shape that broadcasts against `shape`: some dimensions 1, maybe fewer leading ones."""
    out = [d if b.rng.random() < 0.6 else 1 for d in shape]
    drop = b.rng.integers(0, len(out) + 1) if b.rng.random() < 0.3 else 0
    return tuple(out[drop:])


def binary(b):
    x, shape = b.pick()
    op = b.choice(["Add", "Sub", "Mul", "Div", "Max", "Min", "Add", "Mul"])
    other = [t for t in b.pool if t[1] == shape and t[0] != x]
    if other and b.rng.random() < 0.5:
        z = other[b.rng.integers(len(other))][0]
    else:
        z = b.const(b.floats(broadcast_shape(b, shape)))
    if op == "Div":
        z = b.node("Add", [b.node("Abs", [z]), b.const(np.array(0.5, np.float32))])
    args = [x, z] if b.rng.random() < 0.7 or op == "Div" else [z, x]
    return b.add(b.node(op, args), shape)


def conv(b):
    t = b.pick(rank=4)
    if t is None:
        return None
    x, (n, c, h, w) = t
    k = int(b.choice([1, 1, 3, 3, 5]))
    k = min(k, h, w)
    stride = int(b.choice([1, 1, 2]))
    dilation = int(b.choice([1, 1, 1, 2])) if k > 1 and h >= 2 * k and w >= 2 * k else 1
    pad = int(b.rng.integers(0, k)) if k > 1 else 0
    depthwise = b.rng.random() < 0.3
    group = c if depthwise else (int(b.choice([g for g in (1, 2) if c % g == 0])) if c > 1 else 1)
    m = c if depthwise else int(b.choice([2, 4, 8, 12]))
    if m % group:
        m = group * max(1, m // group)
    eff = dilation * (k - 1) + 1
    oh, ow = (h + 2 * pad - eff) // stride + 1, (w + 2 * pad - eff) // stride + 1
    if oh < 1 or ow < 1:
        return None
    wt = b.const(b.floats((m, c // group, k, k), scale=1 / np.sqrt(c // group * k * k)))
    inputs = [x, wt] + ([b.const(b.floats((m,), 0.1))] if b.rng.random() < 0.7 else [])
    y = b.node("Conv", inputs, {"kernel_shape": [k, k], "strides": [stride, stride], "pads": [pad] * 4,
                                "dilations": [dilation, dilation], "group": group})
    shape = (n, m, oh, ow)
    # Fusion-prone tails: BatchNormalization and an activation.
    if b.rng.random() < 0.4:
        y = b.node("BatchNormalization", [y, b.const(b.floats((m,), 0.2) + 1), b.const(b.floats((m,), 0.1)), b.const(b.floats((m,), 0.1)),
                                          b.const(np.abs(b.floats((m,), 0.2)) + 0.5)], {"epsilon": 1e-5})
    if b.rng.random() < 0.5:
        y = b.node(b.choice(["Relu", "Relu", "Sigmoid", "LeakyRelu", "HardSwish", "Tanh"]), [y])
    return b.add(y, shape)


def pool(b):
    t = b.pick(rank=4)
    if t is None:
        return None
    x, (n, c, h, w) = t
    op = b.choice(["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"])
    if op.startswith("Global"):
        return b.add(b.node(op, [x]), (n, c, 1, 1))
    k = int(min(b.choice([2, 3]), h, w))
    stride = int(b.choice([1, 2]))
    pad = int(b.rng.integers(0, k)) if k > 1 and b.rng.random() < 0.5 else 0
    attrs = {"kernel_shape": [k, k], "strides": [stride, stride], "pads": [pad] * 4}
    if op == "AveragePool":
        attrs["count_include_pad"] = int(b.rng.integers(0, 2))
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    if oh < 1 or ow < 1:
        return None
    return b.add(b.node(op, [x], attrs), (n, c, oh, ow))


def matmul(b):
    t = b.pick(min_rank=2)
    if t is None:
        return None
    x, shape = t
    k, n = shape[-1], int(b.choice([3, 8, 10, 16]))
    if len(shape) == 2 and b.rng.random() < 0.6:
        trans_b = int(b.rng.integers(0, 2))
        w = b.const(b.floats((n, k) if trans_b else (k, n), 1 / np.sqrt(k)))
        inputs = [x, w] + ([b.const(b.floats(b.choice([(n,), (1, n)]), 0.1))] if b.rng.random() < 0.7 else [])
        attrs = {"transB": trans_b}
        if b.rng.random() < 0.2:
            attrs["alpha"] = float(b.rng.uniform(0.5, 1.5))
        y = b.node("Gemm", inputs, attrs)
        if b.rng.random() < 0.5:
            y = b.node("Relu", [y])
        return b.add(y, (shape[0], n))
    y = b.node("MatMul", [x, b.const(b.floats((k, n), 1 / np.sqrt(k)))])
    return b.add(y, tuple(shape[:-1]) + (n,))


def normalization(b):
    x, shape = b.pick()
    op = b.choice(["Softmax", "LayerNormalization", "InstanceNormalization", "LogSoftmax"])
    if op == "InstanceNormalization":
        if len(shape) < 3:
            return None
        c = shape[1]
        y = b.node(op, [x, b.const(b.floats((c,), 0.2) + 1), b.const(b.floats((c,), 0.1))], {"epsilon": 1e-5})
        return b.add(y, shape)
    axis = int(b.rng.integers(-len(shape), len(shape)))
    if op == "LayerNormalization":
        norm = tuple(shape[axis:])
        y = b.node(op, [x, b.const(b.floats(norm, 0.2) + 1), b.const(b.floats(norm, 0.1))], {"axis": axis, "epsilon": 1e-5})
        return b.add(y, shape)
    return b.add(b.node(op, [x], {"axis": axis}), shape, bounded=op == "Softmax", nonnegative=op == "Softmax")


def reduction(b):
    x, shape = b.pick()
    op = b.choice(["ReduceMean", "ReduceMax", "ReduceMin", "ReduceSumSquare", "ReduceSum"])
    count = int(b.rng.integers(1, len(shape) + 1))
    axes = sorted(int(a) for a in b.rng.choice(len(shape), size=count, replace=False))
    # Every tensor keeps at least one dimension (scalars are left to the node tests).
    keep = int(b.rng.integers(0, 2)) if count < len(shape) else 1
    out = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else tuple(d for i, d in enumerate(shape) if i not in axes)
    # Since opset 18 every reduction takes its axes as an input.
    y = b.node(op, [x, b.const(np.array(axes, np.int64))], {"keepdims": keep})
    return b.add(y, out)


def movement(b):
    x, shape = b.pick()
    op = b.choice(["Transpose", "Reshape", "Flatten", "Concat", "Slice", "Unsqueeze", "Squeeze", "Pad", "Split", "Tile"])
    rank = len(shape)
    if op == "Transpose":
        perm = [int(p) for p in b.rng.permutation(rank)]
        return b.add(b.node(op, [x], {"perm": perm}), tuple(shape[p] for p in perm))
    if op == "Reshape":
        total = int(np.prod(shape))
        target = b.choice([(1, total), (total,), (shape[0], total // shape[0]), tuple(reversed(shape))])
        if int(np.prod(target)) != total:
            return None
        return b.add(b.node(op, [x, b.const(np.array(target, np.int64))]), target)
    if op == "Flatten":
        axis = int(b.rng.integers(0, rank + 1))
        out = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
        return b.add(b.node(op, [x], {"axis": axis}), out)
    if op == "Concat":
        axis = int(b.rng.integers(0, rank))
        partners = [t for t in b.pool if len(t[1]) == rank and all(t[1][i] == shape[i] for i in range(rank) if i != axis)]
        others = [partners[b.rng.integers(len(partners))] for _ in range(int(b.rng.integers(1, 3)))]
        out = list(shape)
        out[axis] += sum(o[1][axis] for o in others)
        return b.add(b.node(op, [x] + [o[0] for o in others], {"axis": axis}), out)
    if op == "Slice":
        axis = int(b.rng.integers(0, rank))
        d = shape[axis]
        if d < 2:
            return None
        start = int(b.rng.integers(0, d - 1))
        end = int(b.rng.integers(start + 1, d + 1))
        step = int(b.choice([1, 1, 2]))
        out = list(shape)
        out[axis] = len(range(start, end, step))
        return b.add(b.node(op, [x, b.const(np.array([start], np.int64)), b.const(np.array([end], np.int64)),
                                 b.const(np.array([axis], np.int64)), b.const(np.array([step], np.int64))]), out)
    if op == "Unsqueeze":
        if rank >= 5:
            return None
        axis = int(b.rng.integers(0, rank + 1))
        out = list(shape)
        out.insert(axis, 1)
        return b.add(b.node(op, [x, b.const(np.array([axis], np.int64))]), out)
    if op == "Squeeze":
        ones = [i for i, d in enumerate(shape) if d == 1]
        if not ones or rank == 1:
            return None
        return b.add(b.node(op, [x, b.const(np.array([ones[0]], np.int64))]), [d for i, d in enumerate(shape) if i != ones[0]])
    if op == "Pad":
        pads = [int(b.rng.integers(0, 2)) for _ in range(2 * rank)]
        mode = b.choice(["constant", "constant", "edge", "reflect"])
        if mode == "reflect" and any(pads[i] >= shape[i % rank] or pads[i + rank] >= shape[i % rank] for i in range(rank)):
            mode = "constant"
        inputs = [x, b.const(np.array(pads, np.int64))]
        if mode == "constant" and b.rng.random() < 0.5:
            inputs.append(b.const(np.array(b.rng.uniform(-1, 1), np.float32)))
        out = [shape[i] + pads[i] + pads[i + rank] for i in range(rank)]
        return b.add(b.node(op, inputs, {"mode": mode}), out)
    if op == "Split":
        axis = int(b.rng.integers(0, rank))
        if shape[axis] < 2:
            return None
        first = int(b.rng.integers(1, shape[axis]))
        parts = b.node(op, [x, b.const(np.array([first, shape[axis] - first], np.int64))], {"axis": axis}, outputs=2)
        a, c = list(shape), list(shape)
        a[axis], c[axis] = first, shape[axis] - first
        b.add(parts[0], a)
        return b.add(parts[1], c)
    if op == "Tile":
        if int(np.prod(shape)) > 512:
            return None
        reps = [int(b.choice([1, 1, 2])) for _ in range(rank)]
        return b.add(b.node(op, [x, b.const(np.array(reps, np.int64))]), [d * r for d, r in zip(shape, reps)])
    return None


def quantize(b, x, unsigned):
    """QuantizeLinear then DequantizeLinear of `x` with a random per-tensor scale: (int tensor, dq tensor, scale)."""
    scale = float(b.rng.uniform(0.01, 0.05))
    zero = np.array(b.rng.integers(100, 156) if unsigned else b.rng.integers(-20, 20), np.uint8 if unsigned else np.int8)
    s, z = b.const(np.array(scale, np.float32)), b.const(zero)
    q = b.node("QuantizeLinear", [x, s, z])
    return q, b.node("DequantizeLinear", [q, s, z]), scale


def qdq(b):
    """An integer island as QDQ: a quantized Conv or Gemm (per-channel int8 weights, an int32 bias in
    accumulator units, or now and then in other units), a quantized Add of two activations, or a
    quantized average pool; int8 or uint8 activations."""
    t = b.pick(rank=4) if b.rng.random() < 0.6 else b.pick(rank=2)
    if t is None:
        return None
    x, shape = t
    unsigned = b.rng.random() < 0.3
    _, dq, sx = quantize(b, x, unsigned)
    kind = b.choice(["matrix", "matrix", "matrix", "add", "pool"])
    if kind == "add":
        partners = [p for p in b.pool if p[1] == shape and p[0] != x]
        if not partners:
            return None
        _, dq2, _ = quantize(b, partners[b.rng.integers(len(partners))][0], unsigned)
        y, out = b.node("Add", [dq, dq2]), shape
    elif kind == "pool" and len(shape) == 4:
        if b.rng.random() < 0.5:
            y, out = b.node("GlobalAveragePool", [dq]), (shape[0], shape[1], 1, 1)
        else:
            k = int(min(2, shape[2], shape[3]))
            y = b.node("AveragePool", [dq], {"kernel_shape": [k, k], "strides": [k, k]})
            out = (shape[0], shape[1], shape[2] // k, shape[3] // k)
    elif len(shape) == 4:
        n, c, h, w = shape
        k = int(b.choice([1, 3])) if min(h, w) >= 3 else 1
        m = int(b.choice([4, 8]))
        wq = b.rng.integers(-127, 128, size=(m, c, k, k)).astype(np.int8)
        ws = (b.rng.uniform(0.002, 0.02, size=m)).astype(np.float32)
        wdq = b.node("DequantizeLinear", [b.const(wq), b.const(ws), b.const(np.zeros(m, np.int8))], {"axis": 0})
        bias_scale = (np.float32(sx) * ws).astype(np.float32) if b.rng.random() < 0.8 else ws * np.float32(b.rng.uniform(0.5, 2))
        bias = b.node("DequantizeLinear", [b.const(b.rng.integers(-500, 500, size=m).astype(np.int32)), b.const(bias_scale.astype(np.float32)),
                                           b.const(np.zeros(m, np.int32))], {"axis": 0})
        y = b.node("Conv", [dq, wdq, bias], {"kernel_shape": [k, k], "pads": [k // 2] * 4})
        out = (n, m, h, w)
    else:
        rows, k = shape
        n = int(b.choice([4, 10]))
        wq = b.rng.integers(-127, 128, size=(k, n)).astype(np.int8)
        ws = np.float32(b.rng.uniform(0.002, 0.02))
        wdq = b.node("DequantizeLinear", [b.const(wq), b.const(np.array(ws, np.float32)), b.const(np.array(0, np.int8))])
        if b.rng.random() < 0.5:
            y = b.node("MatMul", [dq, wdq])
        else:
            bias = b.node("DequantizeLinear", [b.const(b.rng.integers(-500, 500, size=n).astype(np.int32)),
                                               b.const(np.array(np.float32(sx) * ws, np.float32)), b.const(np.array(0, np.int32))])
            y = b.node("Gemm", [dq, wdq, bias])
        out = (rows, n)
    if kind == "matrix" and b.rng.random() < 0.5:
        y = b.node("Relu", [y])
    _, result, _ = quantize(b, y, unsigned)
    return b.add(result, out)


GENERATORS = [(unary, 4), (binary, 4), (conv, 3), (pool, 2), (matmul, 2), (normalization, 2), (reduction, 1), (movement, 3), (qdq, 2)]


def model(seed):
    """The model for `seed` and its inputs (a dict of arrays)."""
    b = Builder(seed)
    rank = int(b.choice([2, 4, 4, 3]))
    shapes = {2: (int(b.choice([1, 2, 3])), int(b.choice([4, 8, 16]))), 3: (1, int(b.choice([3, 5])), int(b.choice([4, 8]))),
              4: (1, int(b.choice([1, 3, 4])), int(b.choice([5, 8, 9])), int(b.choice([5, 7, 8])))}
    inputs = {}
    for i in range(int(b.choice([1, 1, 2]))):
        shape = shapes[rank] if i == 0 else b.pool[0][1]
        name = f"input_{i}"
        inputs[name] = (b.rng.uniform(-2, 2, size=shape)).astype(np.float32)
        b.add(name, shape)
    generators, weights = zip(*GENERATORS)
    weights = np.array(weights, float) / sum(weights)
    steps, attempts = int(b.rng.integers(2, 10)), 0
    while len(b.nodes) < steps * 2 and attempts < 60:
        attempts += 1
        generators[b.rng.choice(len(generators), p=weights)](b)
    produced = [t for t in b.pool if t[0] not in inputs]
    if not produced:
        unary(b)
        produced = [t for t in b.pool if t[0] not in inputs]
    outputs = [produced[-1]]
    if len(produced) > 2 and b.rng.random() < 0.4:
        outputs.append(produced[b.rng.integers(len(produced) - 1)])
    graph = helper.make_graph(
        b.nodes, f"random_{seed}",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for n, a in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(shape)) for n, shape in outputs], b.initializers)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="whittle-differential")
    m.ir_version = 8
    return m, inputs
