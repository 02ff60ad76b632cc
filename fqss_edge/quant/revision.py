"""Revisions of what a quantized checkpoint computes.

A quantized checkpoint holds weights and learned ranges; how the simulation and the export turn them into integer
codes belongs to the code. When that changes for a layer, a checkpoint written before still loads and its runtimes
still agree with each other (they all follow the new code), but it no longer computes exactly what it was trained
and measured with: its recorded accuracy should be measured again (or a few QAT steps run from it).

Checkpoints record the revision they were written under (safetensors metadata ``fqss_edge.quant_revision``; a
fqss-edge checkpoint without it is revision 1). :func:`stale_changes` lists the changes since then that touch the
layers a model has. Changes too small to re-measure for are recorded here and not listed (no warning):

* revision 2 also: the gLN's int16 time means round exact ties half to even (they move no code by more than the tie);
* revision 3: int8 / int16 LeakyReLU (``QPReLU``) takes TFLite's LEAKY_RELU codes, whose negative side is rounded
  twice (one code lower on a few % of the codes; ``export/tflite/fixedpoint.py``, ``quantize_leaky_relu``).
  Measured with ``fqss-edge eval --json``: the shipped tiny FQSS model's SI-SDRi moved by -0.0015 dB (40
  synthesized test mixtures), the real-speech tiny FQSS model's by +0.03 dB (200 real test mixtures).
* revision 4: int8 LeakyReLU (``QPReLU``, int8 in and out) is ``relu(x) + Q_neg(alpha x)`` (QUANTIZE, MUL, ADD in
  the .tflite; ``quant/layers/activations.py``, ``leaky_parts``) instead of TFLite's LEAKY_RELU, whose double
  rounding XNNPACK does not share. Measured with ``fqss-edge eval --json`` (the same checkpoint, LEAKY_RELU
  codes vs the new form): the shipped tiny FQSS model's SI-SDRi moved by +0.0045 dB (``assets/test_set``, 6
  mixtures), the real-speech tiny FQSS model's by -0.007 dB (200 real test mixtures); the tiny music Conv-TasNet
  PTQ model's museval SDR per stem by +0.03 / +0.08 / -0.03 / +0.10 dB (drums / bass / other / vocals, 6 rendered
  tracks: ``benchmarks/results/parity_convtasnet_music_tiny_ptq.md``). Its export has no LEAKY_RELU left in int8
  and no ``--exact-leaky-relu`` onnxruntime tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from fqss_edge.quant.quantizers import ActQuantizer

QUANT_REVISION = 4
METADATA_KEY = "fqss_edge.quant_revision"


@dataclass(frozen=True)
class Change:
    revision: int  # the first revision with the change
    what: str
    affects: Callable[[nn.Module], bool]  # does a model (built by today's code) have the changed layers?


def _symmetric_int8_activations(model: nn.Module) -> bool:
    return any(isinstance(m, ActQuantizer) and m.symmetric and m.bits == 8 for m in model.modules())


CHANGES: tuple[Change, ...] = (
    Change(2, "the attention's K and V projections quantize symmetrically (int8 zero point 0; were asymmetric)",
           _symmetric_int8_activations),
)


def stale_changes(model: nn.Module, saved_revision: int) -> list[str]:
    """What changed since ``saved_revision`` in the layers ``model`` has (oldest first)."""
    return [c.what for c in CHANGES if c.revision > saved_revision and c.affects(model)]
