#!/usr/bin/env python3
"""Writes the ONNX backend node test cases as model.onnx + test_data_set_0/{input,output}_N.pb.

The cases come from onnx.backend.test.case.node.collect_testcases() of the
pinned onnx package (Tests/requirements.txt) and are written the way
`python -m onnx.backend.test.cmd_tools generate-data` writes model cases.
Inputs or outputs that are not plain tensors (sequences, maps, optionals) are
not written; such a case gets a file `non_tensor` instead, and the Swift
conformance test counts it as not runnable. The inputs of the first data set
are also written as `inputs.npz` (arrays named like the graph inputs), the
way a user gives them to `whittle run --inputs`, where NumPy has their type.

    python3 Tests/Conformance/generate_node_tests.py OUTPUT_DIR
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from onnx.backend.test.case import node as node_cases


def write_value(path, value, value_info):
    if not value_info.type.HasField("tensor_type"):
        return False
    proto = value if isinstance(value, TensorProto) else numpy_helper.from_array(value, value_info.name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    return True


def write_npz(path, inputs, value_infos):
    arrays = {}
    for value, info in zip(inputs, value_infos):
        array = numpy_helper.to_array(value) if isinstance(value, TensorProto) else np.asarray(value)
        # Types NumPy itself lacks (float8, int4, bfloat16 from ml_dtypes) have no .npy form.
        if array.dtype.kind not in "biufc" or array.dtype.type.__module__ != "numpy":
            return
        arrays[info.name] = array
    np.savez(path, **arrays)


def main(output):
    cases = node_cases.collect_testcases()
    count = 0
    for case in cases:
        directory = os.path.join(output, case.name)
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.makedirs(directory)
        with open(os.path.join(directory, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        tensors_only = True
        for i, (inputs, outputs) in enumerate(case.data_sets):
            data = os.path.join(directory, "test_data_set_%d" % i)
            os.makedirs(data)
            for j, value in enumerate(inputs):
                tensors_only &= write_value(os.path.join(data, "input_%d.pb" % j), value, case.model.graph.input[j])
            for j, value in enumerate(outputs):
                tensors_only &= write_value(os.path.join(data, "output_%d.pb" % j), value, case.model.graph.output[j])
        if not tensors_only:
            open(os.path.join(directory, "non_tensor"), "w").close()
        elif case.data_sets:
            write_npz(os.path.join(directory, "inputs.npz"), case.data_sets[0][0], case.model.graph.input)
        count += 1
    with open(os.path.join(output, "VERSION"), "w") as f:
        f.write("onnx %s, %d node cases\n" % (onnx.__version__, count))
    print("wrote %d node cases (onnx %s) to %s" % (count, onnx.__version__, output))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".build-conformance/node")
