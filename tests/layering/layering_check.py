#!/usr/bin/env python3
"""The framework's layers (docs/architecture.md, "Layers"): a file may include headers of its own
layer and of the layers below it, never above or beside it. Run by CTest (layering_check);
exits 1 and names every include that goes the wrong way.

Usage: layering_check.py FRAMEWORK_DIR
"""
import os
import re
import sys

# Bottom to top. Layers in one tuple are peers: neither includes the other.
ORDER = [("base",), ("metrics",), ("log",), ("pattern",), ("models", "timer"), ("net",),
         ("server",), ("app",)]
RANK = {layer: rank for rank, peers in enumerate(ORDER) for layer in peers}
INCLUDE = re.compile(r'^#include "(lf/[^"]+)"', re.M)


def layer_of(path):
    """'lf/net/socket.h' -> 'net'; the Server ('lf/server.h', 'lf/server.cc') is its own layer;
    'lf/handlers/...' sits above every framework layer."""
    parts = path.split("/")
    if parts[1] == "handlers":
        return "handlers"
    if len(parts) == 2 and parts[1] in ("server.h", "server.cc"):
        return "server"
    return parts[1] if len(parts) == 3 else None


def main():
    root = sys.argv[1]
    errors = []
    for folder, _, files in os.walk(os.path.join(root, "lf")):
        for name in files:
            if not name.endswith((".h", ".cc")):
                continue
            path = os.path.relpath(os.path.join(folder, name), root)
            mine = layer_of(path)
            if mine not in RANK:
                errors.append(f"{path}: not in a layer (move it into one of {sorted(RANK)})")
                continue
            with open(os.path.join(root, path)) as f:
                for included in INCLUDE.findall(f.read()):
                    theirs = layer_of(included)
                    if theirs == mine:
                        continue
                    if theirs not in RANK or RANK[theirs] >= RANK[mine]:
                        errors.append(f"{path}: includes {included} ({theirs}), which is not below "
                                      f"{mine}")
    for error in errors:
        print(error)
    print(f"layering: {len(errors)} include(s) going up or sideways" if errors else "layering: ok")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
