#!/bin/sh
# Checks a whittle binary linked as `make install` links it: it must start on a machine without the
# Swift toolchain. It needs no library from the toolchain (no RUNPATH into it, no libswift*,
# Foundation or Dispatch), and it runs and compiles a model with the toolchain's folder hidden
# (a private mount namespace with an empty file system over it; root only, else only the first checks).
#   Tests/Install/check_static.sh BINARY
set -eu
binary=$(readlink -f "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
dynamic=$(readelf -d "$binary")
if echo "$dynamic" | grep -E 'RUNPATH|RPATH' | grep -q "$toolchain"; then
    echo "FAIL: $binary has a run path into the Swift toolchain ($toolchain):"
    echo "$dynamic" | grep -E 'RUNPATH|RPATH'
    exit 1
fi
if echo "$dynamic" | grep NEEDED | grep -Eq 'swift|Foundation|dispatch|BlocksRuntime'; then
    echo "FAIL: $binary needs libraries of the Swift toolchain:"
    echo "$dynamic" | grep NEEDED
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run="'$binary' --version && '$binary' compile '$root/Examples/models/digits_mlp.onnx' --target cortex-m4f -o '$work/c' > /dev/null"
if [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
    unshare --mount sh -c "mount -t tmpfs tmpfs '$toolchain' && $run"
    echo "PASS: $binary runs with $toolchain hidden"
else
    env -i PATH=/usr/bin:/bin sh -c "$run"
    echo "PASS: $binary needs nothing from $toolchain (not run with it hidden: that needs root)"
fi
