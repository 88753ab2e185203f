#!/usr/bin/env python3
"""Checks the layering of the workbench's libraries from CMake's own target graph (cmake --graphviz).

usage: scripts/layers.py BUILD_DIR [--print]

Each library may link only libraries of lower layers, and the torch-free ones must not reach LibTorch at
all (not even through a dependency). Prints every edge with --print; exits 1 naming each violation.
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Bottom first. The first seven build and link without LibTorch.
LAYERS = ["base", "store", "slurm", "eval", "text", "reports", "cli",
          "plugin", "data", "clip", "method", "engine", "tasks", "figures", "commands"]
TORCH_FREE = set(LAYERS[:7])


def graph(build_dir):
    with tempfile.TemporaryDirectory() as tmp:
        dot = Path(tmp) / "deps.dot"
        subprocess.run(["cmake", f"--graphviz={dot}", "."], cwd=build_dir, check=True, stdout=subprocess.DEVNULL)
        text = dot.read_text()
    # Each edge line ends with a comment naming both targets: `"node3" -> "node6"  // tedloc_eval -> tedloc_base`.
    return [(a.strip(), b.strip()) for a, b in re.findall(r'// (\S+) -> (\S+)\s*$', text, re.M)]


def main():
    build_dir, show = sys.argv[1], "--print" in sys.argv
    edges = graph(build_dir)
    rank = {f"tedloc_{name}": i for i, name in enumerate(LAYERS)}
    links = {}
    for a, b in edges:
        links.setdefault(a, set()).add(b)
    problems = []
    for a, b in sorted(edges):
        if a in rank and b in rank:
            if show:
                print(f"{a} -> {b}")
            if rank[b] >= rank[a]:
                problems.append(f"upward or sideways edge: {a} -> {b}")

    def reaches_torch(target, seen):
        for b in links.get(target, ()):
            if b in seen:
                continue
            seen.add(b)
            if "libtorch" in b or "libc10" in b or b in ("torch", "torch_library", "c10") or reaches_torch(b, seen):
                return True
        return False

    for name in TORCH_FREE:
        if reaches_torch(f"tedloc_{name}", set()):
            problems.append(f"tedloc_{name} is torch-free but reaches LibTorch")
    missing = [t for t in rank if t not in links and t != "tedloc_base"]
    problems += [f"{t}: not in the target graph" for t in missing]
    for p in problems:
        print("layers:", p)
    inner = sum(1 for a, b in edges if a in rank and b in rank)
    print(f"layers: {inner} edges between {len(rank)} libraries, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
