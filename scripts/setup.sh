#!/usr/bin/env bash
# Installs the workbench's dependencies from Debian's packages and builds the release preset.
#   scripts/setup.sh            install (apt, needs root or sudo) + configure + build
#   scripts/setup.sh --no-apt   only configure + build
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread          # LibTorch 1.13 (CPU); OpenBLAS: ~25x faster matrix products
  libboost-dev libboost-program-options-dev  # Boost.DLL (header-only with std::filesystem) + program_options
  nlohmann-json3-dev libsqlite3-dev sqlite3 libfmt-dev libgtest-dev
  libturbojpeg0-dev libpng-dev zlib1g-dev libicu-dev
  python3 python3-torch python3-numpy python3-opencv  # only for the benchmarks' reference measurements
  dataset-fashion-mnist                      # the embedded benchmark's items
)

if [[ "${1:-}" != "--no-apt" ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# TEDLOC_CMAKE_ARGS: extra configure options (CI passes -DTEDLOC_WERROR=ON).
cmake --preset release ${TEDLOC_CMAKE_ARGS:-} >/dev/null
cmake --build --preset release -j "$(nproc)"
