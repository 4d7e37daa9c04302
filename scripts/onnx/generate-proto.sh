#!/usr/bin/env bash
# Regenerates Sources/ONNXExport/Generated/onnx.pb.swift from the ONNX schema.
#
# The generated file is committed, so building Cohort never needs protoc or swift-protobuf's
# plugin (whose build takes ~10 minutes). Run this only to move to a newer ONNX schema:
# it takes onnx.proto from PyPI's `onnx` wheel and protoc from `grpcio-tools`, both in a
# throw-away virtualenv, and builds protoc-gen-swift once at SWIFT_PROTOBUF_VERSION. Keep that
# version and the lower bound of swift-protobuf in Package.swift the same: generated code calls
# runtime APIs of its own version.
#
# Usage: scripts/onnx/generate-proto.sh [work-folder]   (default: a fresh temporary folder)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
onnx_version=${ONNX_VERSION:-1.23.2}
protobuf_version=${SWIFT_PROTOBUF_VERSION:-1.39.0}
output="$repo/Sources/ONNXExport/Generated"

if [ ! -x "$work/venv/bin/python" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet "onnx==$onnx_version" grpcio-tools
fi
schema_dir=$("$work/venv/bin/python" -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')

plugin="$work/swift-protobuf/.build/release/protoc-gen-swift"
if [ ! -x "$plugin" ]; then
    git clone --quiet --branch "$protobuf_version" https://github.com/apple/swift-protobuf "$work/swift-protobuf"
    (cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift)
fi

mkdir -p "$output"
"$work/venv/bin/python" -m grpc_tools.protoc \
    --plugin=protoc-gen-swift="$plugin" \
    --proto_path="$schema_dir" \
    --swift_opt=Visibility=Public \
    --swift_out="$output" \
    "$schema_dir/onnx.proto"
echo "wrote $output/onnx.pb.swift from onnx $onnx_version with swift-protobuf $protobuf_version"
