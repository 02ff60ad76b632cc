"""The one-node test cases of every operator, keyed by the op type of its converter (an ONNX op type, or
``island:<name>`` for a declared I/O island): the single table that the int8 tests (``test_ops.py``), the
float32 tests (``test_ops_float.py``) and the guard (``test_operator_units.py``) read.

A case builds a small QDQ graph (``qdq_builder.QDQ``) for a bit width. The int8 test converts it; unless
``float32=False``, the float32 test converts the same graph with its Q/DQ pairs removed
(``qdq_builder.strip_qdq``), so one case tests an operator's converter and its float twin. A float-only case
(``bits=()``) builds a plain float graph.

The cases live in one module per operator family (``op_cases_<family>.py``, each with its own ``CASES``; shared
builders in ``op_case_kit.py``); this module merges them. Adding an operator: add its cases under its op type in
its family's module, or a new family module listed in ``FAMILIES``.
"""

from __future__ import annotations

import ast
import inspect

import op_cases_attention
import op_cases_conv
import op_cases_convert
import op_cases_elementwise
import op_cases_foreign
import op_cases_io
import op_cases_lstm
import op_cases_mixed
import op_cases_shape
import op_cases_unet
import pytest
from op_case_kit import Case

FAMILIES = (op_cases_conv, op_cases_elementwise, op_cases_shape, op_cases_attention, op_cases_lstm, op_cases_io,
            op_cases_convert, op_cases_foreign, op_cases_mixed, op_cases_unet)


def _literal_keys(family) -> list[str]:
    """The op-type keys of a family's ``CASES = {...}`` as written: a key written twice in the literal would
    silently drop the first list of cases."""
    tree = ast.parse(inspect.getsource(family))
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "CASES" for t in targets):
                return [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
    return []


def _merged() -> dict[str, list[Case]]:
    cases: dict[str, list[Case]] = {}
    for family in FAMILIES:
        keys = _literal_keys(family)
        assert len(keys) == len(set(keys)), f"{family.__name__}: CASES names an op type twice ({sorted(keys)})"
        for op, found in family.CASES.items():
            names = {c.name for c in cases.get(op, [])}
            dup = [c.name for c in found if c.name in names]
            assert not dup, f"{family.__name__}: {op} cases {dup} already defined"
            cases.setdefault(op, []).extend(found)
    return cases


CASES: dict[str, list[Case]] = _merged()


def int8_params() -> list:
    """``(op_type, case, bits, resizable)`` of every int8 run: each bit width, and the first with a symbolic T."""
    runs = []
    for op, case in all_cases():
        runs += [pytest.param(op, case, b, False, id=f"{op}-{case.name}-int{b}") for b in case.bits]
        if case.lengths and case.bits:
            runs.append(pytest.param(op, case, case.bits[0], True, id=f"{op}-{case.name}-int{case.bits[0]}-T"))
    return runs


def float_params() -> list:
    """``(op_type, case, resizable)`` of every float32 run: float twins and float-only cases."""
    runs = []
    for op, case in all_cases():
        if case.float32:
            runs += [pytest.param(op, case, r, id=f"{op}-{case.name}" + ("-T" if r else ""))
                     for r in ((False, True) if case.lengths else (False,))]
    return runs


def all_cases() -> list[tuple[str, Case]]:
    return [(op, case) for op, cases in CASES.items() for case in cases]
