#!/usr/bin/env bash
# Checks the CUDA device plugin on a machine with an NVIDIA GPU, end to end
# through the real binaries, and measures it against the CPU plugin on the
# same machine (docs/devices.md gives the results and how they were taken).
#
#   scripts/cuda-check.sh ORT_DIR [BIN_DIR] [OUT_DIR]
#
# ORT_DIR holds libonnxruntime.so.1 with ONNX Runtime's CUDA provider beside
# it (libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so).
# BIN_DIR (default ./bin) holds ovms, ovms-device-cpu and ovms-device-cuda,
# and may hold testmodels (else `go run ./scripts/testmodels` makes the
# models), benchsuite (`go build ./scripts/benchsuite`, else `go run`) and
# onnxruntime.test (`go test -c ./devices/onnxruntime`). The CUDA
# libraries the provider links (cudart, cuBLAS, cuRAND, cuDNN) must be on the
# library path: pip's nvidia-* wheels are found and added when they are not.
# Needs curl and python3 (for comparing the two answers). Exits non-zero
# when a check fails.
#
# Steps: ovms plugin list must show CUDA available; one ovms serves ResNet-50
# on CPU and on CUDA; the answers to one input must agree; ovms bench
# measures both (closed loop, concurrency 1 and 8) while nvidia-smi samples
# the GPU; SIGKILL of ovms-device-cuda must be recovered from; issue 16's
# GPU targets (the bench suite's gpu group: ResNet-50 with dynamic batching
# at 16 clients >= 3x unbatched and >= 0.95x the engine in-process at the
# mean batch size ovms formed) must be met; the binding's TestCUDAProvider must pass
# with OVMS_TEST_CUDA=1.
set -uo pipefail

ort_dir=$(cd "${1:?usage: $0 ORT_DIR [BIN_DIR] [OUT_DIR]}" && pwd)
bin=$(cd "${2:-bin}" && pwd)
out=$(mkdir -p "${3:-cuda-check}" && cd "${3:-cuda-check}" && pwd)
work=$(mktemp -d)
failed=0
fail() { echo "FAIL: $*"; failed=1; }
step() { echo; echo "== $*"; }

export ORT_LIB=$ort_dir/libonnxruntime.so.1
if ! ldconfig -p | grep -q 'libcublasLt\.so\.1[0-9]'; then
  for d in $(find /usr/local/cuda*/lib64 /opt /usr/local/lib /usr/lib/python3* -maxdepth 8 \
      \( -name 'libcublasLt.so.*' -o -name 'libcudart.so.*' -o -name 'libcurand.so.*' -o -name 'libcudnn.so.*' \) \
      -printf '%h\n' 2>/dev/null | sort -u); do
    LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  done
  export LD_LIBRARY_PATH
fi
echo "ORT_LIB=$ORT_LIB"
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

step "GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1 | tee "$out/gpu.csv"
ls -l /dev/nvidia* 2>&1 | head -5
cat /proc/driver/nvidia/version 2>&1 | head -1

step "ovms plugin list"
"$bin/ovms" plugin list 2>&1 | tee "$out/plugin-list.txt"
grep -E '^cuda .* available$' "$out/plugin-list.txt" >/dev/null || fail "ovms plugin list does not show CUDA as available"

step "models"
if [ -x "$bin/testmodels" ]; then "$bin/testmodels" -bench -out "$work/models" >/dev/null
else go run ./scripts/testmodels -bench -out "$work/models" >/dev/null; fi || fail "testmodels"
cat >"$work/config.json" <<EOF
{"model_config_list": [
  {"config": {"name": "resnet50_cpu", "base_path": "$work/models/resnet50", "target_device": "CPU"}},
  {"config": {"name": "resnet50_cuda", "base_path": "$work/models/resnet50", "target_device": "CUDA"}}
]}
EOF

step "serve"
mem_before=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
"$bin/ovms" --config_path "$work/config.json" --port 19000 --rest_port 18000 --log_level INFO >"$out/ovms.log" 2>&1 &
ovms_pid=$!
trap '[ -n "$ovms_pid" ] && kill $ovms_pid 2>/dev/null; rm -rf "$work"' EXIT
ready() { curl -sf "http://127.0.0.1:18000/v2/models/$1/ready" >/dev/null; }
start=$(date +%s.%N)
for _ in $(seq 600); do ready resnet50_cpu && ready resnet50_cuda && break; sleep 0.1; done
if ready resnet50_cuda; then
  echo "both models AVAILABLE after $(awk "BEGIN{printf \"%.3f\", $(date +%s.%N) - $start}") s"
else
  fail "resnet50_cuda is not AVAILABLE"
  tail -40 "$out/ovms.log"
fi
mem_after=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
echo "GPU memory used: ${mem_before:-?} MiB before, ${mem_after:-?} MiB with the models loaded"

step "same answer on CPU and CUDA"
python3 - <<'EOF' 2>&1 | tee "$out/compare.txt" || fail "answers differ"
import json, random, urllib.request
random.seed(7)
data = [random.uniform(-1, 1) for _ in range(3 * 224 * 224)]
body = json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 224, 224], "datatype": "FP32", "data": data}]}).encode()
def infer(m):
    r = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:18000/v2/models/{m}/infer", body, {"Content-Type": "application/json"}))
    return json.load(r)["outputs"][0]["data"]
cpu, gpu = infer("resnet50_cpu"), infer("resnet50_cuda")
big = max(abs(v) for v in cpu)
diff = max(abs(a - b) for a, b in zip(cpu, gpu))
top = lambda v: sorted(range(len(v)), key=lambda i: -v[i])[:5]
print(f"{len(cpu)} outputs; largest |CPU value| {big:.4g}; largest |CPU - CUDA| {diff:.3g} ({diff / big:.2%}); top-5 CPU {top(cpu)} CUDA {top(gpu)}")
assert len(cpu) == len(gpu) == 1000 and big > 0 and diff <= 0.01 * big, "CUDA answer differs from the CPU's by more than 1%"
EOF

step "ovms bench (closed loop, concurrency 1 and 8, KServe gRPC)"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -lms 250 >"$out/smi-during-cuda.csv" 2>&1 &
smi_pid=$!
"$bin/ovms" bench -m resnet50_cuda -u 127.0.0.1:19000 -c 1,8 --window 3s --format csv -o "$out/bench-cuda.csv" || fail "bench resnet50_cuda"
kill $smi_pid 2>/dev/null
"$bin/ovms" bench -m resnet50_cpu -u 127.0.0.1:19000 -c 1,8 --window 3s --format csv -o "$out/bench-cpu.csv" || fail "bench resnet50_cpu"
echo "CUDA:"; cat "$out/bench-cuda.csv"
echo "CPU:"; cat "$out/bench-cpu.csv"
echo "GPU utilization during the CUDA bench (max, %):"
sed 's/ %.*//' "$out/smi-during-cuda.csv" | sort -n | tail -1

step "SIGKILL ovms-device-cuda"
pkill -KILL -f 'ovms-device-cuda' || fail "no ovms-device-cuda process"
start=$(date +%s.%N)
# Until the core sees the exit the model still reads AVAILABLE: wait for it
# to leave that state (LOADING while the plugin restarts), then to return.
down=0
for _ in $(seq 750); do
  if ! ready resnet50_cuda; then down=1; elif [ $down = 1 ]; then break; fi
  sleep 0.02
done
[ $down = 1 ] || fail "resnet50_cuda never left AVAILABLE after the kill"
if [ $down = 1 ] && ready resnet50_cuda; then
  echo "resnet50_cuda AVAILABLE again $(awk "BEGIN{printf \"%.3f\", $(date +%s.%N) - $start}") s after the kill"
  python3 - <<'EOF' || fail "no answer after the restart"
import json, urllib.request
body = json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 224, 224], "datatype": "FP32", "data": [0.5] * (3 * 224 * 224)}]}).encode()
r = json.load(urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:18000/v2/models/resnet50_cuda/infer", body)))
print("answer after the restart:", len(r["outputs"][0]["data"]), "values")
EOF
else
  fail "resnet50_cuda not AVAILABLE again 15 s after the kill"
fi

step "dynamic batching on CUDA (bench suite, gpu group)"
# The first ovms leaves the GPU and the CPUs to the suite's own.
kill $ovms_pid 2>/dev/null
for _ in $(seq 200); do kill -0 $ovms_pid 2>/dev/null || break; sleep 0.1; done
kill -KILL $ovms_pid 2>/dev/null
wait $ovms_pid 2>/dev/null
ovms_pid=
suite=
if [ -x "$bin/benchsuite" ]; then suite=$bin/benchsuite
elif command -v go >/dev/null && go build -o "$work/benchsuite" ./scripts/benchsuite; then suite=$work/benchsuite
else echo "no benchsuite binary in $bin and none could be built: skipped"; fi
if [ -n "$suite" ]; then
  "$suite" -bin "$bin" -models "$work/models" -only gpu -device CUDA -json "$out/bench-gpu.json" 2>&1 | tee "$out/bench-gpu.txt"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || fail "gpu targets (benchsuite exit $rc: 1 a target missed or could not be measured, 2 the suite could not run)"
fi

if [ -x "$bin/onnxruntime.test" ]; then
  step "binding: TestCUDAProvider (OVMS_TEST_CUDA=1)"
  OVMS_TEST_CUDA=1 "$bin/onnxruntime.test" -test.run '^TestCUDAProvider$' -test.v 2>&1 | tee "$out/binding.txt" | grep -v '^=== '
  grep -q '^--- PASS: TestCUDAProvider' "$out/binding.txt" || fail "TestCUDAProvider"
fi

step "result"
if [ $failed = 0 ]; then echo "cuda-check: all checks passed"; else echo "cuda-check: FAILED"; fi
exit $failed
