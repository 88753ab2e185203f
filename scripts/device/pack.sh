#!/usr/bin/env bash
# Here, on a Debian 12 machine with a registry: packs what the GPU machine lacks into .device/ (git-ignored),
# for scripts/device/run.sh to build with there. The GPU machine has PyTorch (its wheel holds LibTorch with
# CUDA), CMake, ninja and a compiler, but no registry and none of Debian's -dev packages.
#   .device/deps.tar.xz   headers, shared libraries and CMake files of the workbench's other dependencies
#                         (static libraries and docs left out: ~20 MB)
#   .device/shared/       a copy of ../shared (goldens), which does not travel with the working tree
# Then: the device tool's run with carry [".device"] and the command `bash scripts/device/run.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
packages=(
  libboost1.74-dev libboost-program-options1.74-dev libboost-program-options1.74.0
  nlohmann-json3-dev libfmt-dev libfmt9 libsqlite3-dev libsqlite3-0 libgtest-dev
  libturbojpeg0-dev libturbojpeg0 libpng-dev libpng16-16 zlib1g-dev libicu-dev libicu72
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/root" .device
chmod 755 "$work" && chmod 777 "$work/debs"  # apt downloads as its own user when it can
(cd "$work/debs" && apt-get download "${packages[@]}" >/dev/null)
for f in "$work"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man"
find "$work/root" -name '*.a' -delete
tar -C "$work/root" -cJf .device/deps.tar.xz usr
rm -rf .device/shared
cp -r ../shared .device/shared
chmod -R u+w .device/shared  # ../shared is read-only; the copy must stay replaceable
du -sh .device/deps.tar.xz .device/shared
