"""The U-Net operations in int8 (``op_cases_unet``): XNNPACK takes each whole graph, except the step-2
STRIDED_SLICE (decimation ``x[..., ::2]``), which it has no kernel for; the models decimate by reshaping instead
(``decimate_by_reshape``). (The float32 twins are checked the same way in ``test_ops_float``.)"""

from __future__ import annotations

import op_cases_unet
import pytest

from fqss_edge.export.tflite import convert_model
from fqss_edge.runtimes.litert_backend import xnnpack_delegation

CASES = [c for cases in op_cases_unet.CASES.values() for c in cases]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_int8_unet_operation_is_delegated_to_xnnpack(case, tmp_path):
    buf, _ = convert_model(case.model(8), io=case.io)
    (tmp_path / "m.tflite").write_bytes(buf)
    d = xnnpack_delegation(tmp_path / "m.tflite")
    if case.delegated:
        assert d["partitions"] == 1 and d["delegated"] == d["operators"], f"{case.name}: XNNPACK {d}"
    else:
        assert d["not_delegated"] == {"STRIDED_SLICE": 1}, f"{case.name}: XNNPACK {d}"
