#!/usr/bin/env bash
# Regenerates onnx.pb-c.c and include/onnx.pb-c.h from proto/onnx.proto.
#
# The generated files are committed so that building Whittle needs only
# libprotobuf-c-dev, not the protoc-c compiler. Run this script after
# replacing proto/onnx.proto with a newer release, and update VERSION.
#
#   apt-get install -y --no-install-recommends protobuf-c-compiler
#   Sources/ONNXProto/regenerate.sh
#
# To fetch the proto of a given onnx release from PyPI:
#   pip download --no-deps -d /tmp/onnxwhl onnx==1.23.2
#   unzip -o -j /tmp/onnxwhl/onnx-1.23.2-*.whl onnx/onnx.proto -d Sources/ONNXProto/proto
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$here/proto" && protoc-c --c_out="$tmp" onnx.proto)
mv "$tmp/onnx.pb-c.c" "$here/onnx.pb-c.c"
mv "$tmp/onnx.pb-c.h" "$here/include/onnx.pb-c.h"
echo "proto sha256: $(sha256sum "$here/proto/onnx.proto" | cut -d' ' -f1)"
echo "protoc-c: $(protoc-c --version 2>&1 | head -n1)"
