#!/usr/bin/env bash
# On the GPU machine: builds the workbench against the LibTorch inside its PyTorch wheel (CUDA) with the
# dependencies packed by scripts/device/pack.sh, runs the test suite, then the GPU benchmarks.
#   bash scripts/device/run.sh [--no-tests] [--no-bench]
# Logs and figures go to $OUT (the device tool's output folder) or to build/cuda/logs.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests=1 bench=1
for a in "$@"; do
  case "$a" in
    --no-tests) tests=0 ;;
    --no-bench) bench=0 ;;
    *) echo "usage: $0 [--no-tests] [--no-bench]" >&2; exit 2 ;;
  esac
done
[[ -f .device/deps.tar.xz ]] || { echo "run.sh: .device/deps.tar.xz is missing: run scripts/device/pack.sh first and carry .device" >&2; exit 3; }
logs=${OUT:-build/cuda/logs}
mkdir -p "$logs"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "dependencies"
deps=/tmp/tedloc-deps
mkdir -p "$deps"
tar -C "$deps" -xJf .device/deps.tar.xz
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

step "configure + build (LibTorch from $torch_prefix)"
cmake -S . -B build/cuda -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr;$deps/usr/lib/x86_64-linux-gnu/cmake" \
  -DCMAKE_INCLUDE_PATH="$deps/usr/include" -DCMAKE_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu" \
  -DTEDLOC_SHARED_DIR="$PWD/.device/shared" 2>&1 | tee "$logs/configure.log" | tail -5
cmake --build build/cuda -j "$(nproc)" 2>&1 | tee "$logs/build.log" | tail -3

if ((tests)); then
  step "tests"
  ctest --test-dir build/cuda -LE bench --output-on-failure -j 4 2>&1 | tee "$logs/ctest.log" | tail -15 || true
fi
if ((bench)); then
  step "GPU benchmarks"
  build/cuda/bench/bench_infer --device cuda 2>&1 | tee "$logs/bench_infer.log"
fi
step "done"
