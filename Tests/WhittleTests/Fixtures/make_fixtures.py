#!/usr/bin/env python3
"""Writes the small ONNX fixtures the Swift tests read.

The fixtures are committed, so the tests do not need Python; run this script
(with the `onnx` package, see Tests/requirements.txt) only to change them:

    python3 Tests/WhittleTests/Fixtures/make_fixtures.py

expected.json records, for each fixture that needs it, what the Swift side must
find: tensor bytes (hex, as numpy lays them out) and shapes.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261121)
expected = {}

# Element types Whittle decodes, with values that exercise sign and width.
TYPES = {
    "float32": (TensorProto.FLOAT, np.array([1.5, -2.25, 3.0e-5, 65504.0, -0.0, 7.0], np.float32)),
    "float64": (TensorProto.DOUBLE, np.array([1.0 / 3.0, -2.5e300, 0.0, 1.0, 2.0, -7.0], np.float64)),
    "float16": (TensorProto.FLOAT16, np.array([1.0, -2.5, 0.000061035156, 65504.0, -0.0, 0.33325], np.float16)),
    "bfloat16": (TensorProto.BFLOAT16, [1.0, -2.5, 3.140625, 1.0e30, -0.0, 0.5]),
    "int8": (TensorProto.INT8, np.array([-128, 127, 0, -1, 5, 64], np.int8)),
    "uint8": (TensorProto.UINT8, np.array([0, 255, 1, 128, 7, 9], np.uint8)),
    "int16": (TensorProto.INT16, np.array([-32768, 32767, 0, -1, 300, -300], np.int16)),
    "uint16": (TensorProto.UINT16, np.array([0, 65535, 1, 32768, 300, 9], np.uint16)),
    "int32": (TensorProto.INT32, np.array([-2**31, 2**31 - 1, 0, -1, 70000, -70000], np.int32)),
    "uint32": (TensorProto.UINT32, np.array([0, 2**32 - 1, 1, 2**31, 70000, 9], np.uint32)),
    "int64": (TensorProto.INT64, np.array([-2**63, 2**63 - 1, 0, -1, 2**40, -2**40], np.int64)),
    "uint64": (TensorProto.UINT64, np.array([0, 2**64 - 1, 1, 2**63, 2**40, 9], np.uint64)),
    "bool": (TensorProto.BOOL, np.array([True, False, True, True, False, False])),
}


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model)
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def model_of(nodes, inputs, outputs, initializers=(), opset=13, ir=8, functions=(), extra_opsets=()):
    graph = helper.make_graph(nodes, "fixture", inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir, producer_name="whittle-fixtures",
                             functions=list(functions))


def identity_model(tensors):
    """Each initializer is passed through an Identity node to a graph output."""
    nodes, outputs = [], []
    for t in tensors:
        nodes.append(helper.make_node("Identity", [t.name], [t.name + "_out"], name="id_" + t.name))
        outputs.append(helper.make_tensor_value_info(t.name + "_out", t.data_type, list(t.dims)))
    return model_of(nodes, [], outputs, tensors)


def element_types():
    raw, typed = [], []
    for name, (code, values) in TYPES.items():
        if isinstance(values, np.ndarray):
            raw_t = numpy_helper.from_array(values.reshape(2, 3), name)
            typed_t = helper.make_tensor(name, code, [2, 3], values.tolist(), raw=False)
        else:  # bfloat16: no numpy type; make_tensor converts and rounds
            raw_t = helper.make_tensor(name, code, [2, 3], values, raw=False)
            raw_t.raw_data = numpy_helper.to_array(raw_t).tobytes()
            del raw_t.int32_data[:]
            typed_t = helper.make_tensor(name, code, [2, 3], values, raw=False)
        assert raw_t.HasField("raw_data") and not typed_t.HasField("raw_data"), name
        raw.append(raw_t)
        typed.append(typed_t)
        expected.setdefault("element_types", {})[name] = {
            "shape": [2, 3], "hex": numpy_helper.to_array(typed_t).tobytes().hex()}
    save(identity_model(raw), "types_raw.onnx")
    save(identity_model(typed), "types_typed.onnx")
    # Empty tensor and scalar.
    empty = numpy_helper.from_array(np.zeros((0, 4), np.float32), "empty")
    scalar = numpy_helper.from_array(np.array(2.5, np.float32), "scalar")
    save(identity_model([empty, scalar]), "types_empty_scalar.onnx")


def unaligned():
    """raw_data placed at an odd byte offset of the file."""
    values = np.arange(1, 17, dtype=np.float32) / 8
    for pad in range(1, 9):
        t = numpy_helper.from_array(values.reshape(4, 4), "w" + "x" * pad)
        data = identity_model([t]).SerializeToString()
        if data.find(values.tobytes()) % 4 != 0:
            break
    save(identity_model([t]), "unaligned_raw.onnx")
    expected["unaligned"] = {"name": t.name, "hex": values.tobytes().hex(), "offset": data.find(values.tobytes())}


def unsupported_types():
    strings = helper.make_tensor("s", TensorProto.STRING, [2], [b"a", b"b"])
    save(identity_model([strings]), "type_string.onnx", check=False)
    c64 = helper.make_tensor("c", TensorProto.COMPLEX64, [1], [complex(1.0, 2.0)])
    save(identity_model([c64]), "type_complex64.onnx", check=False)
    f8 = helper.make_tensor("f8", TensorProto.FLOAT8E4M3FN, [2], [1.0, 2.0])
    save(identity_model([f8]), "type_float8.onnx", check=False)


def initializer_as_input():
    """IR version 3 lists initializers among the graph inputs."""
    w = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "W")
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3])
    w_in = helper.make_tensor_value_info("W", TensorProto.FLOAT, [3, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 4])
    node = helper.make_node("MatMul", ["X", "W"], ["Y"], name="fc")
    save(model_of([node], [x, w_in], [y], [w], opset=7, ir=3), "initializer_as_input.onnx")


def constants():
    t = numpy_helper.from_array(np.array([[1, 2], [3, 4]], np.int32), "t")
    nodes = [
        helper.make_node("Constant", [], ["c_tensor"], name="c_tensor", value=t),
        helper.make_node("Constant", [], ["c_float"], name="c_float", value_float=0.5),
        helper.make_node("Constant", [], ["c_floats"], name="c_floats", value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Constant", [], ["c_int"], name="c_int", value_int=7),
        helper.make_node("Constant", [], ["c_ints"], name="c_ints", value_ints=[4, 5, 6, 7]),
    ]
    outputs = [helper.make_tensor_value_info(n.output[0], TensorProto.UNDEFINED, None) for n in nodes]
    save(model_of(nodes, [], outputs), "constants.onnx", check=False)
    strings = helper.make_node("Constant", [], ["c_string"], name="c_string", value_string="hello")
    save(model_of([strings], [], [helper.make_tensor_value_info("c_string", TensorProto.STRING, [])]),
         "constant_string.onnx", check=False)


def domains():
    """Operators from ai.onnx.ml and com.microsoft: listed as unsupported, never fatal."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])
    nodes = [
        helper.make_node("Relu", ["X"], ["a"], name="relu"),
        helper.make_node("Normalizer", ["a"], ["b"], name="norm", domain="ai.onnx.ml", norm="L2"),
        helper.make_node("FastGelu", ["b"], ["c"], name="gelu", domain="com.microsoft"),
        helper.make_node("Sigmoid", ["c"], ["Y"], name="sig"),
    ]
    model = model_of(nodes, [x], [y], extra_opsets=[("ai.onnx.ml", 3), ("com.microsoft", 1)])
    save(model, "domains.onnx", check=False)


def external_data():
    """Weights kept in a separate file, with offsets; and the bad variants."""
    w = rng.standard_normal((8, 4)).astype(np.float32)
    b = rng.standard_normal((8,)).astype(np.float32)
    blob = b"HEAD" + w.tobytes() + b.tobytes()
    with open(os.path.join(HERE, "external.bin"), "wb") as f:
        f.write(blob)

    def tensor(name, arr, location, offset):
        t = onnx.TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(arr.shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(offset)), ("length", str(arr.nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        return t

    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 8])
    node = helper.make_node("Gemm", ["X", "W", "B"], ["Y"], name="fc", transB=1)
    for suffix, location in (("", "external.bin"), ("_absolute", "/etc/passwd"),
                             ("_escape", "../external.bin"), ("_missing", "missing.bin")):
        inits = [tensor("W", w, location, 4), tensor("B", b, location, 4 + w.nbytes)]
        save(model_of([node], [x], [y], inits), "external%s.onnx" % suffix, check=False)
    expected["external"] = {"W": w.tobytes().hex(), "B": b.tobytes().hex()}


def local_functions():
    """A model-local function with an attribute reference and a default, called twice (dynamo-exporter style)."""
    fn_nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["z"]),
    ]
    act = helper.make_node("LeakyRelu", ["z"], ["y"])
    ref = onnx.AttributeProto()
    ref.name, ref.ref_attr_name, ref.type = "alpha", "slope", onnx.AttributeProto.FLOAT
    act.attribute.append(ref)
    fn_nodes.append(act)
    function = helper.make_function("pkg.custom", "LinearLeaky", ["x", "w", "b"], ["y"], fn_nodes,
                                    [helper.make_opsetid("", 13)], attributes=[])
    default = helper.make_attribute("slope", 0.2)
    function.attribute_proto.append(default)
    # Same name, overload "fast" (IR 10): the node's overload field picks this body.
    fast = helper.make_function("pkg.custom", "LinearLeaky", ["x", "w", "b"], ["y"],
                                [helper.make_node("Gemm", ["x", "w", "b"], ["y"])],
                                [helper.make_opsetid("", 13)], overload="fast")
    w1 = numpy_helper.from_array(rng.standard_normal((4, 6)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(rng.standard_normal((6,)).astype(np.float32), "b1")
    w2 = numpy_helper.from_array(rng.standard_normal((6, 3)).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(rng.standard_normal((3,)).astype(np.float32), "b2")
    w3 = numpy_helper.from_array(rng.standard_normal((3, 3)).astype(np.float32), "w3")
    b3 = numpy_helper.from_array(rng.standard_normal((3,)).astype(np.float32), "b3")
    nodes = [
        helper.make_node("LinearLeaky", ["X", "w1", "b1"], ["h1"], name="layer1", domain="pkg.custom", slope=0.1),
        helper.make_node("LinearLeaky", ["h1", "w2", "b2"], ["h2"], name="layer2", domain="pkg.custom"),
        helper.make_node("LinearLeaky", ["h2", "w3", "b3"], ["Y"], name="layer3", domain="pkg.custom"),
    ]
    nodes[2].overload = "fast"
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3])
    model = model_of(nodes, [x], [y], [w1, b1, w2, b2, w3, b3], functions=[function, fast],
                     extra_opsets=[("pkg.custom", 1)], ir=10)
    save(model, "local_functions.onnx")


def subgraphs():
    """If and Loop with subgraph bodies: parsed, reported as unsupported."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])
    then_g = helper.make_graph([helper.make_node("Relu", ["X"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["X"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    node_if = helper.make_node("If", ["cond"], ["r"], name="branch", then_branch=then_g, else_branch=else_g)
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Add", ["v_in", "X"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2])])
    trips = numpy_helper.from_array(np.array(3, np.int64), "trips")
    node_loop = helper.make_node("Loop", ["trips", "cond", "r"], ["Y"], name="repeat", body=body)
    save(model_of([node_if, node_loop], [x, cond], [y], [trips]), "subgraphs.onnx")


def symbolic_and_shape_arithmetic():
    """A batch dimension N and the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain exporters write."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, 4, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 48])
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "minus1")
    axes = numpy_helper.from_array(np.array([0], np.int64), "axes0")
    nodes = [
        helper.make_node("Shape", ["X"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["X", "target"], ["Y"], name="reshape"),
    ]
    save(model_of(nodes, [x], [y], [zero, minus1, axes]), "symbolic_reshape.onnx")


def errors():
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])
    # Cycle: a -> b -> a.
    cyc = [helper.make_node("Relu", ["X", "b"], ["a"], name="first"),
           helper.make_node("Sigmoid", ["a"], ["b"], name="second"),
           helper.make_node("Identity", ["b"], ["Y"], name="out")]
    cyc[0] = helper.make_node("Add", ["X", "b"], ["a"], name="first")
    save(model_of(cyc, [x], [y]), "error_cycle.onnx", check=False)
    undefined = [helper.make_node("Add", ["X", "nowhere"], ["Y"], name="adder")]
    save(model_of(undefined, [x], [y]), "error_undefined_input.onnx", check=False)
    xi = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 5, 5])
    yi = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 2, 3, 3])
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "W")
    conv = helper.make_node("Conv", ["X", "W"], ["Y"], name="conv1")
    conv.attribute.append(helper.make_attribute("kernel_shape", [3.0, 3.0]))
    save(model_of([conv], [xi], [yi], [w]), "error_attribute_type.onnx", check=False)
    huge = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2**40, 2**40, 16])
    yh = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2**40, 2**40, 16])
    save(model_of([helper.make_node("Relu", ["X"], ["Y"], name="r")], [huge], [yh]), "error_overflow.onnx", check=False)
    # A node that makes a too-large output from a small input: Expand to 2^31 x 2^31 x 2^31.
    target = numpy_helper.from_array(np.array([2**31, 2**31, 2**31], np.int64), "target")
    xs = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 1])
    ys = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    save(model_of([helper.make_node("Expand", ["X", "target"], ["Y"], name="grow")], [xs], [ys], [target]),
         "error_overflow_inferred.onnx", check=False)


def numpy_files():
    """Inputs for `whittle run` on Examples/models/digits_mlp.onnx (input "input", float32 1x64)."""
    x = (np.arange(64, dtype=np.float32).reshape(1, 64) % 17) / 16
    np.save(os.path.join(HERE, "run_good.npy"), x)
    np.save(os.path.join(HERE, "run_big_endian.npy"), x.astype(">f4"))
    np.save(os.path.join(HERE, "run_fortran.npy"), np.asfortranarray(x.reshape(8, 8)))
    np.save(os.path.join(HERE, "run_object.npy"), np.array([None, 1], dtype=object), allow_pickle=True)
    np.save(os.path.join(HERE, "run_wrong_shape.npy"), x[:, :63])
    np.save(os.path.join(HERE, "run_wrong_dtype.npy"), x.astype(np.float64))
    np.savez(os.path.join(HERE, "run_positional.npz"), x)  # stored, named arr_0
    np.savez_compressed(os.path.join(HERE, "run_named.npz"), input=x, extra=np.array(["text"]))  # deflated
    np.savez(os.path.join(HERE, "run_missing.npz"), other=x)
    all_types = {name: np.arange(6).astype(dtype).reshape(2, 3) for name, dtype in [
        ("f2", np.float16), ("f4", np.float32), ("f8", np.float64), ("i1", np.int8), ("u1", np.uint8),
        ("i2", np.int16), ("u2", np.uint16), ("i4", np.int32), ("u4", np.uint32), ("i8", np.int64),
        ("u8", np.uint64), ("b1", np.bool_)]}
    all_types["scalar"] = np.array(3.5, np.float32)
    all_types["empty"] = np.zeros((0, 3), np.float32)
    np.savez_compressed(os.path.join(HERE, "npz_all_types.npz"), **all_types)


def quantized_ops_vs_onnxruntime():
    """Integer operators with ONNX Runtime's outputs (graph optimizations off) as references: q_<op>.onnx + .refs.npz."""
    import onnxruntime as ort

    r = np.random.default_rng(7)
    T = TensorProto
    x = r.integers(0, 256, (1, 8, 12, 12), dtype=np.uint8)
    a = r.integers(0, 256, (4, 32), dtype=np.uint8)
    b = r.integers(0, 256, (32, 8), dtype=np.uint8)
    w = r.integers(-127, 128, (16, 8, 3, 3), dtype=np.int8)
    f = numpy_helper.from_array
    cases = {
        "qlinearconv": ([helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], pads=[1, 1, 1, 1])],
                        [f(np.array(0.02, np.float32), "xs"), f(np.array(128, np.uint8), "xz"), f(w, "w"),
                         f((r.random(16) * 0.01 + 0.001).astype(np.float32), "ws"), f(np.zeros(16, np.int8), "wz"),
                         f(np.array(0.5, np.float32), "ys"), f(np.array(100, np.uint8), "yz"),
                         f(r.integers(-5000, 5000, 16).astype(np.int32), "b")],
                        ("x", T.UINT8, x), [("y", T.UINT8, [1, 16, 12, 12])]),
        "qlinearmatmul": ([helper.make_node("QLinearMatMul", ["x", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])],
                          [f(np.array(0.03, np.float32), "as"), f(np.array(120, np.uint8), "az"), f(b, "b"),
                           f(np.array(0.02, np.float32), "bs"), f(np.array(130, np.uint8), "bz"),
                           f(np.array(0.7, np.float32), "ys"), f(np.array(127, np.uint8), "yz")],
                          ("x", T.UINT8, a), [("y", T.UINT8, [4, 8])]),
        "matmulinteger": ([helper.make_node("MatMulInteger", ["x", "b", "az", "bz"], ["y"])],
                          [f(b, "b"), f(np.array(120, np.uint8), "az"), f(np.array(130, np.uint8), "bz")],
                          ("x", T.UINT8, a), [("y", T.INT32, [4, 8])]),
        "convinteger": ([helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"], pads=[1, 1, 1, 1])],
                        [f(r.integers(0, 256, (16, 8, 3, 3), dtype=np.uint8), "w"), f(np.array(128, np.uint8), "xz")],
                        ("x", T.UINT8, x), [("y", T.INT32, [1, 16, 12, 12])]),
        "dynamicquantizelinear": ([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])], [],
                                  ("x", T.FLOAT, (r.standard_normal((3, 50)) * 3).astype(np.float32)),
                                  [("y", T.UINT8, [3, 50]), ("s", T.FLOAT, []), ("z", T.UINT8, [])]),
    }
    # com.microsoft QOperator contrib ops, as onnxruntime.quantization writes them.
    ms = "com.microsoft"
    x8 = r.integers(-128, 128, (1, 4, 6, 6), dtype=np.int8)
    cases.update({
        "qlinearadd": ([helper.make_node("QLinearAdd", ["x", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"], domain=ms)],
                       [f(np.array(0.05, np.float32), "as"), f(np.array(3, np.int8), "az"),
                        f(r.integers(-128, 128, (4, 1, 1), dtype=np.int8), "b"), f(np.array(0.07, np.float32), "bs"),
                        f(np.array(-5, np.int8), "bz"), f(np.array(0.09, np.float32), "cs"), f(np.array(-2, np.int8), "cz")],
                       ("x", T.INT8, x8), [("y", T.INT8, [1, 4, 6, 6])]),
        "qlinearmul": ([helper.make_node("QLinearMul", ["x", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"], domain=ms)],
                       [f(np.array(0.02, np.float32), "as"), f(np.array(128, np.uint8), "az"),
                        f(r.integers(0, 256, (1, 8), dtype=np.uint8), "b"), f(np.array(0.03, np.float32), "bs"),
                        f(np.array(120, np.uint8), "bz"), f(np.array(0.01, np.float32), "cs"), f(np.array(130, np.uint8), "cz")],
                       ("x", T.UINT8, r.integers(0, 256, (4, 8), dtype=np.uint8)), [("y", T.UINT8, [4, 8])]),
        "qlinearaveragepool": ([helper.make_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain=ms,
                                                 kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
                               [f(np.array(0.04, np.float32), "xs"), f(np.array(-10, np.int8), "xz"),
                                f(np.array(0.03, np.float32), "ys"), f(np.array(4, np.int8), "yz")],
                               ("x", T.INT8, x8), [("y", T.INT8, [1, 4, 3, 3])]),
        "qlinearglobalaveragepool": ([helper.make_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain=ms)],
                                     [f(np.array(0.04, np.float32), "xs"), f(np.array(-10, np.int8), "xz"),
                                      f(np.array(0.01, np.float32), "ys"), f(np.array(4, np.int8), "yz")],
                                     ("x", T.INT8, x8), [("y", T.INT8, [1, 4, 1, 1])]),
        "qgemm": ([helper.make_node("QGemm", ["x", "as", "az", "b", "bs", "bz", "c", "ys", "yz"], ["y"], domain=ms, transB=1)],
                  [f(np.array(0.02, np.float32), "as"), f(np.array(128, np.uint8), "az"),
                   f(r.integers(-127, 128, (6, 16), dtype=np.int8), "b"), f((r.random(6) * 0.01 + 0.002).astype(np.float32), "bs"),
                   f(np.zeros(6, np.int8), "bz"), f(r.integers(-3000, 3000, 6).astype(np.int32), "c"),
                   f(np.array(0.05, np.float32), "ys"), f(np.array(120, np.uint8), "yz")],
                  ("x", T.UINT8, r.integers(0, 256, (3, 16), dtype=np.uint8)), [("y", T.UINT8, [3, 6])]),
        "qgemm_float": ([helper.make_node("QGemm", ["x", "as", "az", "b", "bs", "bz", "c"], ["y"], domain=ms, alpha=0.5)],
                        [f(np.array(0.02, np.float32), "as"), f(np.array(128, np.uint8), "az"),
                         f(r.integers(-127, 128, (16, 6), dtype=np.int8), "b"), f(np.array(0.004, np.float32), "bs"),
                         f(np.array(0, np.int8), "bz"), f(r.integers(-3000, 3000, 6).astype(np.int32), "c")],
                        ("x", T.UINT8, r.integers(0, 256, (3, 16), dtype=np.uint8)), [("y", T.FLOAT, [3, 6])]),
    })
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for name, (nodes, inits, (xin, xtype, xval), outs) in cases.items():
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(xin, xtype, list(xval.shape))],
                                  [helper.make_tensor_value_info(o, t, s) for o, t, s in outs], inits)
        opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(ms, 1)] if nodes[0].domain == ms else [])
        model = helper.make_model(graph, opset_imports=opsets, ir_version=8, producer_name="whittle-fixtures")
        path = save(model, "q_%s.onnx" % name, check=nodes[0].domain != ms)
        refs = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"]).run(None, {xin: xval})
        np.savez(os.path.join(HERE, "q_%s.refs.npz" % name), in_0=xval, **{"out_%d" % j: v for j, v in enumerate(refs)})
    expected["onnxruntime"] = ort.__version__


if __name__ == "__main__":
    quantized_ops_vs_onnxruntime()
    numpy_files()
    element_types()
    unaligned()
    unsupported_types()
    initializer_as_input()
    constants()
    domains()
    external_data()
    local_functions()
    subgraphs()
    symbolic_and_shape_arithmetic()
    errors()
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print("fixtures written to", HERE)
