"""ARM parity under qemu-user (bench.emulate): the aarch64 LiteRT gives the same integers as x86.

Needs the emulation root (about a minute and ~200 MB the first time): ``python -m fqss_edge.bench.emulate
prepare``, or set FQSS_PREPARE_EMULATION=1 to let this test prepare it. Skipped otherwise.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from fqss_edge.bench.devices import host_arch
from fqss_edge.bench.emulate import find_root, prepare_root, run_emulated
from fqss_edge.cli.main import main
from fqss_edge.runtimes.litert_backend import LiteRtBackend

PCM_LSB_PER_INT8_STEP = 257  # the FQSS output reconstruction: one int8 step of its coarse part ~ 256 PCM steps


@pytest.fixture(scope="module")
def root():
    if host_arch() == "aarch64":
        pytest.skip("this host is aarch64: nothing to emulate")
    er = find_root()
    if er is None and os.environ.get("FQSS_PREPARE_EMULATION") == "1":
        er = prepare_root(log=lambda s: None)
    if er is None:
        pytest.skip("aarch64 emulation root not prepared: run `python -m fqss_edge.bench.emulate prepare` "
                    "(~1 min, ~200 MB) or set FQSS_PREPARE_EMULATION=1")
    return er


@pytest.fixture(scope="module")
def pcm() -> np.ndarray:
    return np.clip(np.random.default_rng(0).normal(0, 4000, 4000), -32768, 32767).astype(np.int16)


def _emulated(tiny, pcm, kernels):
    y = run_emulated(tiny.tflite, pcm[None], kernels=kernels)
    return y.reshape(y.shape[-2] if y.ndim > 1 else 1, -1)[:, : pcm.shape[0]].astype(np.int64)


def _x86(tiny, pcm, kernels):
    return LiteRtBackend(kernels=kernels).load(tiny.tflite).run_int16(pcm).astype(np.int64)


def test_ref_kernels_match_x86_exactly(root, tiny, pcm):
    assert np.array_equal(_emulated(tiny, pcm, "ref"), _x86(tiny, pcm, "ref"))


def test_xnnpack_matches_x86_xnnpack_within_3_lsb(root, tiny, pcm):
    if not root.xnnpack_ok:
        pytest.skip(f"qemu-aarch64 {root.qemu_version} crashes in XNNPACK (Debian 13's qemu-user 10 runs it)")
    diff = np.abs(_emulated(tiny, pcm, "xnnpack") - _x86(tiny, pcm, "xnnpack")).max()
    assert diff <= 3, f"sources differ by {diff} PCM LSB between aarch64 and x86 XNNPACK"


def test_optimised_builtin_kernels_round_differently_on_aarch64(root, tiny, pcm):
    """aarch64's optimised builtin kernels are not x86's: a few int8 steps apart at most, never more."""
    if not root.xnnpack_ok:
        pytest.skip(f"qemu-aarch64 {root.qemu_version} crashes in the optimised kernels")
    diff = np.abs(_emulated(tiny, pcm, "builtin") - _x86(tiny, pcm, "builtin")).max()
    assert diff <= 3 * PCM_LSB_PER_INT8_STEP, f"sources differ by {diff} PCM LSB"


def test_emulated_bench_is_labelled_not_representative(root, tiny, capsys):
    code = main(["bench", str(tiny.tflite), "--emulate", "--runs", "2", "--warmup", "0", "--chunk", "0.25", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["emulated"] is True and d["timing_note"] == "emulated, not representative"
    assert d["where"].startswith("emulated: qemu-aarch64") and d["environment"]["machine"] == "aarch64"
    assert d["device"]["arch"] == "aarch64" and d["results"][0]["latency_ms"]["n"] == 2
