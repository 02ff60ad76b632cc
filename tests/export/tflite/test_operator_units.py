"""An operator is one unit: its int8 converter (``ops/``), its float32 twin (``ops_float/``), a reference kernel
for every builtin it writes (``reference/``) and its one-node cases (``op_cases.CASES``). These tests fail when
a piece is missing or a declaration is wrong:

* every registered op type (both registries) has one-node cases under its key, and every key is registered;
* every builtin an int8 converter declares (``writes``) has a reference kernel. A float32 converter's builtins
  need none: float32 files are checked against onnxruntime by its cases (``test_ops_float.py``), and the
  reference refuses them;
* every converter has its twin in the other registry, or says why not (``no_twin``), never both;
* ``writes`` is true: a converted case holds no builtin that its converters do not declare, and the cases of
  each converter write every builtin it declares (so each one meets LiteRT in a test).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from op_cases import CASES, Case, all_cases

from fqss_edge.errors import FqssError
from fqss_edge.export.tflite import convert_model
from fqss_edge.export.tflite import converter as _int8  # noqa: F401  (registers the int8 converters)
from fqss_edge.export.tflite import float_converter as _float  # noqa: F401  (registers the float32 converters)
from fqss_edge.export.tflite.builder import BuiltinOperator as B
from fqss_edge.export.tflite.builder import operator_name
from fqss_edge.export.tflite.reference import KERNELS, ReferenceModel, kernel_for, reference_kernel
from fqss_edge.export.tflite.registry import FLOAT32, INT8, Registry, twin

REGISTRIES = {"int8": INT8, "float32": FLOAT32}


def _names(codes) -> list[str]:
    return sorted(operator_name(c) for c in codes)


def _has_case(kind: str, case: Case) -> bool:
    return case.int8 if kind == "int8" else case.float32


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_every_registered_op_type_has_one_node_cases(kind):
    missing = [s.op_type for s in REGISTRIES[kind].specs()
               if not any(_has_case(kind, c) for c in CASES.get(s.op_type, []))]
    assert not missing, f"{kind} converters without a one-node case in op_cases.CASES: {missing}"


def test_every_case_key_is_a_registered_op_type():
    stale = [k for k in CASES if INT8.get(k) is None and FLOAT32.get(k) is None]
    assert not stale, f"op_cases.CASES keys without a converter: {stale}"


def test_every_builtin_an_int8_converter_writes_has_a_reference_kernel():
    missing = {s.op_type: _names(c for c in s.writes if c not in KERNELS) for s in INT8.specs()}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"builtins without a reference kernel (export/tflite/reference/): {missing}"


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_every_converter_has_a_twin_or_says_why_not(kind):
    for s in REGISTRIES[kind].specs():
        other = "float32" if kind == "int8" else "int8"
        if twin(s) is None:
            assert s.no_twin, f"{kind} converter of {s.op_type} has no {other} twin: write one, or say why in no_twin"
        else:
            assert not s.no_twin, f"{kind} converter of {s.op_type} says no_twin but the {other} one exists"


# -- writes: declared == written ---------------------------------------------------------------------------------
def _converted(kind: str, case: Case) -> list:
    """(model, .tflite) of every conversion the case's tests make."""
    if kind == "int8":
        runs = [case.model(b) for b in case.bits] + ([case.model(case.bits[0], True)] if case.lengths else [])
        return [(m, convert_model(m, io=case.io, min_runtime=case.min_runtime)[0]) for m in runs]
    runs = [case.float_model()] + ([case.float_model(True)] if case.lengths else [])
    return [(m, convert_model(m)[0]) for m in runs]


def _converters(kind: str, model) -> set[str]:
    """The op types of the converters that take part in converting ``model``."""
    reg, nodes = REGISTRIES[kind], model.graph.node
    used = {n.op_type for n in nodes if reg.get(n.op_type) is not None and n.op_type != "QuantizeLinear"}
    produced_by = {o: n.op_type for n in nodes for o in n.output}
    if any(n.op_type == "QuantizeLinear" and produced_by.get(n.input[0]) == "DequantizeLinear" for n in nodes):
        used.add("QuantizeLinear")  # a requantization
    for island, plain in (("input_splitter", "input"), ("output_reconstruction", "output")):
        inside = kind == "int8" and any(n.name.startswith(island + "/") for n in nodes)
        used.add(f"island:{island}" if inside else f"island:{plain}")
    return used


@cache
def _written(kind: str) -> list[tuple[str, str, set[int], set[str]]]:
    """(key, case name, builtins written, converters taking part) of every converted case."""
    out = []
    for key, case in all_cases():
        if _has_case(kind, case):
            for model, buf in _converted(kind, case):
                out.append((key, case.name, set(ReferenceModel(buf).codes), _converters(kind, model)))
    return out


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_cases_write_only_declared_builtins(kind):
    reg = REGISTRIES[kind]
    for key, name, codes, converters in _written(kind):
        declared = {c for op in converters for c in reg.get(op).writes}
        assert codes <= declared, (f"{kind} case {key}/{name} writes {_names(codes - declared)}, which none of its "
                                   f"converters ({sorted(converters)}) declares in writes=")


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_every_declared_builtin_is_written_by_a_case_of_its_converter(kind):
    reg = REGISTRIES[kind]
    for s in reg.specs():
        keys = {o.op_type for o in reg.specs() if o.fn is s.fn}  # Reshape / Squeeze / ...: one converter
        seen = set().union(*[codes for key, _, codes, _ in _written(kind) if key in keys])
        assert set(s.writes) <= seen, (f"{kind} converter of {s.op_type} declares {_names(set(s.writes) - seen)}, "
                                       f"which none of its cases ({sorted(keys)}) writes: add a case")


# -- the registries' rules ---------------------------------------------------------------------------------------
def _relu_case() -> Case:
    return next(c for c in CASES["Relu"] if c.name == "relu")


def test_the_reference_refuses_float32_models():
    buf, _ = convert_model(_relu_case().float_model())
    x = np.zeros((1, 3, 16), np.float32)
    with pytest.raises(FqssError, match="reference: RELU on float32 tensors .*integer models only"):
        ReferenceModel(buf).run(x)


def test_a_builtin_without_a_reference_kernel_fails_naming_it(monkeypatch):
    with pytest.raises(FqssError, match="reference: operator GELU is not implemented"):
        kernel_for(B.GELU)
    monkeypatch.delitem(KERNELS, B.RELU)
    buf, _ = convert_model(_relu_case().model(8), io="quantized")
    with pytest.raises(FqssError, match="reference: operator RELU is not implemented"):
        ReferenceModel(buf).run(np.zeros((1, 3, 16), np.int8))


def test_a_reference_kernel_is_registered_once():
    with pytest.raises(ValueError, match="reference kernel for CONV_2D is already registered .*conv.conv_2d"):
        reference_kernel(B.CONV_2D)(lambda op: None)


def test_a_converter_must_declare_what_it_writes():
    reg = Registry("test", (8,), "{op}")
    with pytest.raises(ValueError, match="writes must list TFLite builtins"):
        reg.register("Tanh", writes=())
    with pytest.raises(ValueError, match="writes must list TFLite builtins"):
        reg.register("Tanh", writes=(99999,))
    reg.register("Tanh", writes=(B.TANH,))(lambda ctx, node: None)
    assert reg.lookup("Tanh", "n").tflite == "TANH"  # the docs' default: the names of the builtins
