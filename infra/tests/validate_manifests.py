#!/usr/bin/env python3
"""Validates rendered manifests against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
unknown fields are errors). Resources of CRDs the schemas do not know (Istio's networking.istio.io
and security.istio.io) are counted and skipped; any other kind without a schema is an error.

Usage: validate_manifests.py --kubernetes-version 1.31 FILE...
"""
from __future__ import annotations

import argparse
import collections
import sys

import kubernetes_validate
import yaml

CRD_GROUPS = ("networking.istio.io/", "security.istio.io/")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubernetes-version", default="1.31")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    failures = 0
    for path in args.files:
        validated = collections.Counter()
        skipped = collections.Counter()
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            kind = f"{doc.get('apiVersion')}/{doc.get('kind')}"
            name = doc.get("metadata", {}).get("name")
            if str(doc.get("apiVersion", "")).startswith(CRD_GROUPS):
                skipped[doc["kind"]] += 1
                continue
            try:
                kubernetes_validate.validate(doc, args.kubernetes_version, strict=True)
                validated[doc["kind"]] += 1
            except kubernetes_validate.ValidationError as error:
                failures += 1
                print(f"{path}: {kind} {name}: {error.message} at {'/'.join(map(str, error.path))}",
                      file=sys.stderr)
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as error:
                failures += 1
                print(f"{path}: {kind} {name}: no schema ({error})", file=sys.stderr)
        summary = ", ".join(f"{n} {k}" for k, n in sorted(validated.items()))
        crds = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items()))
        print(f"validate: {path}: valid against Kubernetes {args.kubernetes_version}: {summary}"
              + (f"; Istio CRDs not schema-checked: {crds}" if crds else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
