"""Reference counts for ONNX files, computed with the `onnx` Python package (Debian python3-onnx).

Reads file paths (one per line) from stdin and prints one JSON object mapping each path to
{nodes, inits, params, const, subNodes, subgraphs, error}. Used by test/unit/onnxConformance.test.ts.

Definitions (shared with the TypeScript reader; see src/core/formats/onnx/reader.ts):
- nodes / inits: top-level graph nodes / initializers (dense `initializer` only).
- params: element counts of dense initializers in every graph (main + If/Loop/Scan bodies, recursive),
  plus `const`.
- const: elements held in `Constant` nodes of every graph: value / sparse_value (stored values) tensors,
  1 for value_float / value_int / value_string, list length for value_floats / value_ints / value_strings.
- sparse initializers add their stored values' element count to params.
"""
import json
import sys

import onnx
from onnx import AttributeProto


def numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def walk(graph, acc, depth):
    acc["inits_all"] += sum(numel(t.dims) for t in graph.initializer)
    acc["params_sparse"] += sum(numel(s.values.dims) for s in graph.sparse_initializer)
    for node in graph.node:
        if depth > 0:
            acc["subNodes"] += 1
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for a in node.attribute:
                if a.name in ("value",):
                    acc["const"] += numel(a.t.dims)
                elif a.name == "sparse_value":
                    acc["const"] += numel(a.sparse_tensor.values.dims)
                elif a.name in ("value_float", "value_int", "value_string"):
                    acc["const"] += 1
                elif a.name == "value_floats":
                    acc["const"] += len(a.floats)
                elif a.name == "value_ints":
                    acc["const"] += len(a.ints)
                elif a.name == "value_strings":
                    acc["const"] += len(a.strings)
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                acc["subgraphs"] += 1
                walk(a.g, acc, depth + 1)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    acc["subgraphs"] += 1
                    walk(g, acc, depth + 1)


def main():
    out = {}
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        try:
            m = onnx.load(path, load_external_data=False)
            acc = {"inits_all": 0, "params_sparse": 0, "const": 0, "subNodes": 0, "subgraphs": 0}
            walk(m.graph, acc, 0)
            out[path] = {
                "nodes": len(m.graph.node),
                "inits": len(m.graph.initializer),
                "params": acc["inits_all"] + acc["params_sparse"] + acc["const"],
                "const": acc["const"],
                "subNodes": acc["subNodes"],
                "subgraphs": acc["subgraphs"],
                "irVersion": m.ir_version,
            }
        except Exception as e:  # noqa: BLE001 - every failure is reported per file
            out[path] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
