"""Which int8 / int16 element-wise operators the installed LiteRT's XNNPACK delegate takes (one-operator models).

The int8 .tflite leaves gLN's 1/std (RSQRT, one per gLN, on a single value per utterance) and the int16 PCM
I/O to TFLite's own kernels (see ``parity_tiny_fqss.md``). This probe shows what a replacement could use: it
writes a one-operator model per candidate (int8, or int16 where marked), asks LiteRT which operators its default
XNNPACK delegate took, and records "yes", "no" (TFLite runs it itself) or TFLite's own refusal (the operator has
no kernel for that type at all). ADD, SUB, MUL, LOGISTIC, TANH and ELU are controls: the probe must see them
delegated. Run it again after upgrading ai-edge-litert.

    .venv/bin/python benchmarks/xnnpack_ops.py

Writes ``benchmarks/results/xnnpack_ops.{json,md}``.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fqss_edge.export.tflite.builder import ModelBuilder, Quant
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

ROOT = Path(__file__).resolve().parents[1]
B = schema.BuiltinOperator
# (operator, inputs, operator version, dtype, role)
PROBES = [
    ("ADD", 2, 2, np.int8, "control"), ("SUB", 2, 2, np.int8, "control"), ("MUL", 2, 2, np.int8, "control"),
    ("LOGISTIC", 1, 2, np.int8, "control"), ("TANH", 1, 2, np.int8, "control"), ("ELU", 1, 1, np.int8, "control"),
    ("RSQRT", 1, 2, np.int8, "1/std (gLN)"), ("SQRT", 1, 1, np.int8, "1/std candidate"),
    ("DIV", 2, 1, np.int8, "1/std candidate"), ("EXP", 1, 2, np.int8, "1/std candidate"),
    ("LOG", 1, 1, np.int8, "1/std candidate"), ("SQUARED_DIFFERENCE", 2, 2, np.int8, "variance candidate"),
    ("ADD", 2, 3, np.int16, "int16 island / PCM I/O"), ("MUL", 2, 4, np.int16, "int16 island"),
    ("RSQRT", 1, 3, np.int16, "int16 island"),
]


class _ProbeBuilder(ModelBuilder):
    """Writes its one operator at the version the probe names: the candidates include builtins the exporter
    never writes, which have no entry in export/tflite/versions.py."""

    probe_version = 1

    def stamped(self) -> list[tuple[int, int, str]]:
        return [(sig.code, self.probe_version, "probe") for sig in self._signatures]


def probe(op: str, n_in: int, op_version: int, dtype: type) -> str:
    b = _ProbeBuilder()
    b.probe_version = op_version
    zp = 0 if dtype == np.int16 else -128  # non-negative inputs (RSQRT, SQRT, LOG need them)
    q_in = Quant.make(np.array([0.05], np.float32), np.array([zp], np.int64))
    q_out = Quant.make(np.array([0.03], np.float32), np.array([0 if dtype == np.int16 else 5], np.int64))
    ins = [b.tensor(f"x{i}", (1, 1, 8, 16), dtype, q_in) for i in range(n_in)]
    y = b.tensor("y", (1, 1, 8, 16), dtype, q_out)
    b.op(getattr(B, op), ins, [y])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one.tflite"
        path.write_bytes(b.build(ins, [y]))
        try:
            d = xnnpack_delegation(path)
        except Exception as e:  # TFLite itself has no kernel for this type: its own one-line reason
            return "TFLite: " + str(e).splitlines()[0][:90]
    return "yes" if d["delegated"] == d["operators"] else "no"


def main() -> int:
    rows = [{"operator": op, "dtype": np.dtype(dt).name, "role": role, "xnnpack": probe(op, n, v, dt)}
            for op, n, v, dt, role in PROBES]
    controls = [r for r in rows if r["role"] == "control"]
    if any(r["xnnpack"] != "yes" for r in controls):
        print("a control operator was not delegated: the probe does not work with this LiteRT", file=sys.stderr)
        return 1
    rec = {"command": "python benchmarks/xnnpack_ops.py", "ai_edge_litert": version("ai-edge-litert"),
           "machine": platform.machine(), "rows": rows}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "xnnpack_ops.json").write_text(json.dumps(rec, indent=2))
    md = ["# XNNPACK delegation of one-operator models", "",
          f"`{rec['command']}` with ai-edge-litert {rec['ai_edge_litert']} ({rec['machine']}). \"no\": LiteRT runs the "
          "operator with TFLite's own kernels; \"TFLite: ...\": TFLite has no kernel for that type.", "",
          "| operator | type | role | taken by XNNPACK |", "|---|---|---|---|"]
    md += [f"| {r['operator']} | {r['dtype']} | {r['role']} | {r['xnnpack']} |" for r in rows]
    (out / "xnnpack_ops.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
