"""Where the bytes of an int8 ``.tflite`` go, next to its float twin: tensor data by type, quantization vectors
(each distinct vector once, as ``export/tflite/builder.py`` writes them), tensor names, and the rest (operators,
tensor tables, alignment). Every part is given as a fraction of the float file, so that the rows of the int8
column add up to the int8 / float size ratio. Reads the models ``bn_fold_speed.py`` left in its work folder::

    python benchmarks/tflite_size.py --work /tmp/bnf_work --size full --name full_avx512vnni

and writes ``benchmarks/results/tflite_size_<name>.{md,json}`` (notes under the page's marker are kept).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PARTS = ("int8 tensor data", "int16 tensor data", "int32 tensor data", "float32 tensor data",
         "per-channel scales of weights", "per-channel scales of biases", "per-tensor scales",
         "zero points", "tensor names", "rest")


def _vector_bytes(values: np.ndarray) -> int:
    """A flatbuffer vector: a 4-byte length, the elements, padded to 4 bytes."""
    n = 4 + values.nbytes
    return n + (-n) % 4


def breakdown(path: Path) -> dict[str, int]:
    """Bytes of ``path`` per part of ``PARTS`` (they add up to the file size)."""
    from ai_edge_litert import schema_py_generated as schema

    from fqss_edge.export.tflite.builder import NUMPY_TYPES

    data = path.read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    parts = dict.fromkeys(PARTS, 0)
    buffers_seen, vectors_seen = set(), set()
    for graph in model.subgraphs:
        for t in graph.tensors:
            buf = model.buffers[t.buffer]
            if t.buffer not in buffers_seen and buf.data is not None and len(buf.data):
                buffers_seen.add(t.buffer)
                dtype = NUMPY_TYPES.get(t.type)
                kind = f"{dtype} tensor data"
                if kind not in parts:
                    sys.exit(f"{path}: a constant tensor of TFLite type {t.type}, which this page does not count")
                parts[kind] += len(buf.data)
            parts["tensor names"] += _vector_bytes(np.frombuffer((t.name or b"") + b"\0", np.uint8))
            q = t.quantization
            if q is None:
                continue
            for values, part in ((q.scale, "scales"), (q.zeroPoint, "zero points")):
                if values is None or not len(values):
                    continue
                v = np.asarray(values, np.float32 if part == "scales" else np.int64)
                key = (part, v.tobytes())
                if key in vectors_seen:
                    continue
                vectors_seen.add(key)
                if part == "scales" and v.size == 1:
                    part = "per-tensor scales"
                elif part == "scales":
                    part = "per-channel scales of " + ("biases" if NUMPY_TYPES.get(t.type) == np.int32 else "weights")
                parts[part] += _vector_bytes(v)
    parts["rest"] = len(data) - sum(parts.values())
    return parts


def to_markdown(rows: dict[str, dict], command: str) -> str:
    lines = ["# int8 vs float `.tflite`: where the bytes go", "", f"Command: `{command}`", "",
             "Each part as a fraction of the float file (so the int8 column adds up to the size ratio). Quantization"
             " vectors are counted once per distinct vector, as the writer stores them.", ""]
    for label, row in rows.items():
        f, q = row["float"], row["int8"]
        total_f, total_q = sum(f.values()), sum(q.values())
        lines += [f"## {label}", "", f"float {total_f:,} B, int8 {total_q:,} B: **int8 / float = "
                  f"{total_q / total_f:.4f}**", "", "| part | float bytes | int8 bytes | int8 / float file |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {p} | {f[p]:,} | {q[p]:,} | {q[p] / total_f:.4f} |" for p in PARTS if f[p] or q[p]]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from fqss_edge.bench.pages import write_page

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="bn_fold_speed.py's --work folder")
    ap.add_argument("--size", default="full")
    ap.add_argument("--name", required=True)
    args = ap.parse_args(argv)
    folder = args.work / args.size
    variants = sorted(p for p in folder.iterdir() if (p / "litert_int8.tflite").is_file()) if folder.is_dir() else []
    if not variants:
        sys.exit(f"{folder}: no <variant>/litert_int8.tflite (run bn_fold_speed.py --work {args.work} first)")
    rows = {}
    for v in variants:
        float_path = v / "litert_float.tflite"
        if not float_path.is_file():
            sys.exit(f"{float_path}: missing (the float twin of {v / 'litert_int8.tflite'})")
        rows[v.name] = {"float": breakdown(float_path), "int8": breakdown(v / "litert_int8.tflite")}
    command = "python benchmarks/tflite_size.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = to_markdown(rows, command)
    out = RESULTS / f"tflite_size_{args.name}"
    out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=1))
    write_page(out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
