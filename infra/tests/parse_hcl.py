#!/usr/bin/env python3
"""Parses every .tf / .tfvars(.example) / .hcl(.example) file under the given folders with
python-hcl2 (offline: no terraform init, no registry). Fails on a syntax error, and on a module
whose `source` is a local path that does not exist.

Usage: parse_hcl.py DIR...
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import hcl2

SUFFIXES = (".tf", ".tfvars", ".tfvars.example", ".hcl", ".hcl.example")


def main() -> int:
    failures = 0
    count = 0
    for top in sys.argv[1:]:
        for path in sorted(Path(top).rglob("*")):
            if ".terraform" in path.parts or not path.name.endswith(SUFFIXES):
                continue
            count += 1
            try:
                with open(path) as f:
                    doc = hcl2.load(f)
            except Exception as error:  # noqa: BLE001 - any parser error is a failure
                failures += 1
                print(f"parse_hcl: {path}: {error}", file=sys.stderr)
                continue
            for block in doc.get("module", []):
                for name, body in block.items():
                    source = str(body.get("source", "")).strip('"')
                    if source.startswith("."):
                        target = (path.parent / source).resolve()
                        if not target.is_dir() or not any(target.glob("*.tf")):
                            failures += 1
                            print(f"parse_hcl: {path}: module {name}: source {source} is not a module folder",
                                  file=sys.stderr)
    print(f"parse_hcl: {count} HCL files parsed" + (f", {failures} problems" if failures else ", all valid"))
    return 1 if failures or not count else 0


if __name__ == "__main__":
    sys.exit(main())
