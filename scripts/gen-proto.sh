#!/usr/bin/env bash
# Regenerates the committed Go code for every .proto file under proto/ with the
# protoc-gen-go and protoc-gen-go-grpc versions pinned as tools in go.mod, and
# the ONNX protobuf types from Debian's libonnx-dev onnx.proto.
#   ONNX_PROTO=/path/to/onnx.proto   overrides the onnx.proto location.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
module=github.com/ovmsgo/ovms

command -v protoc >/dev/null || { echo "gen-proto: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
onnx_proto=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
[ -f "$onnx_proto" ] || { echo "gen-proto: $onnx_proto not found (apt-get install libonnx-dev)" >&2; exit 1; }

tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
go build -o "$tools/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$tools/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc
export PATH="$tools:$PATH"

mapfile -t protos < <(cd proto && find . -name '*.proto' -printf '%P\n' | sort)
protoc -I proto \
  --go_out=. --go_opt=module=$module \
  --go-grpc_out=. --go-grpc_opt=module=$module \
  "${protos[@]}"

protoc -I "$(dirname "$onnx_proto")" \
  --go_out=. --go_opt=module=$module \
  "--go_opt=M$(basename "$onnx_proto")=$module/proto/onnx;onnxpb" \
  "$(basename "$onnx_proto")"
