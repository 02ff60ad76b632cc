"""Quantized LSTM: the integer arithmetic of TFLite's fully integer UNIDIRECTIONAL_SEQUENCE_LSTM ("8x8_16").

Time major, as ``torch.nn.LSTM`` by default and ONNX's LSTM (onnxruntime runs only ``layout=0``):
``(T, B, n_input) -> (T, B, D * hidden)``, D = 2 when bidirectional (forward then backward features; a backward
direction is the forward LSTM on the time-reversed sequence, i.e. REVERSE_V2 + UNIDIRECTIONAL_SEQUENCE_LSTM +
REVERSE_V2, and CONCATENATION).

Quantization (what the kernel accepts, ``export/tflite/reference/lstm.py`` for the arithmetic):

* input int8 (the incoming ``QTensor``'s scale and zero point), weights int8 **per tensor** (one scale for each
  of the 8 matrices of a direction: input and recurrent, per gate i, f, g, o), the gate bias
  (``bias_ih + bias_hh``) int32 at ``s_x * s_W``;
* gate pre-activations int16 at the fixed 2^-12, gates by gemmlowp's integer sigmoid / tanh;
* cell state int16 at a power-of-two scale ``2^cell_log2``: TensorFlow's rule (the smallest power of two >= the
  calibrated max |c|, over 32768), limited to the kernel's [2^-15, 2^-9] (cells beyond +-64 saturate);
* hidden state int8 by ``out_quant``, shared by the output, the recurrent input and both directions.

Modes: ``spec.enabled=False`` is ``torch.nn.LSTM`` itself. Quantized, the first training batches (while
``out_quant`` observes) run the float recurrence and record the cell range; afterwards the forward computes the
integer arithmetic exactly (int64 tensors, batch-vectorized, a loop over time). With gradients enabled, a
float LSTM of the fake-quantized weights runs alongside and every integer value replaces its float twin
straight-through (gate pre-activations, gates, cell, hidden), so the weights, their scales and the output range
train as in the other layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from torch import nn

from fqss_edge.quant.gemmlowp16 import sigmoid_table, tanh_table
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import ActQuantizer, WeightQuantizer, export_bias, quantize_bias
from fqss_edge.quant.spec import QuantSpec

CELL_LOG2_MIN, CELL_LOG2_MAX = -15, -9
_GATE_SCALE = 2.0**-12


@dataclass(frozen=True)
class LstmCodes:
    """One direction's integer parameters as TFLite stores them (gates in i, f, g, o order)."""

    w: np.ndarray  # int8 [4, hidden, n_input]
    s_w: tuple[float, ...]  # float32 per gate
    r: np.ndarray  # int8 [4, hidden, hidden]
    s_r: tuple[float, ...]
    b: np.ndarray  # int32 [4, hidden], scale s_x * s_w[g]
    cell_log2: int


def cell_log2_for(max_abs: float) -> int:
    """TensorFlow's power-of-two cell scale (GetPowerOfTwoScale: 2^pot >= range, pot in 0..10) over 32768,
    clamped to what the kernel's integer tanh takes."""
    pot = 0
    for _ in range(10):
        if 2.0**pot < max_abs:
            pot += 1
    return int(min(max(pot - 15, CELL_LOG2_MIN), CELL_LOG2_MAX))


# -- TFLite fixed point on int64 torch tensors (per-element multipliers and shifts) ------------------------------
def _rdbpot(x: torch.Tensor, e: torch.Tensor | int) -> torch.Tensor:
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > ((mask >> 1) + (x < 0).long())).long()


def _mbqm(x: torch.Tensor, multiplier: torch.Tensor | int, shift: torch.Tensor | int) -> torch.Tensor:
    """MultiplyByQuantizedMultiplier (double rounding) of int32 values held in int64."""
    if isinstance(shift, int):
        left, right = max(shift, 0), max(-shift, 0)
    else:
        left, right = shift.clamp(min=0), (-shift).clamp(min=0)
    x = x << left
    x = ((x + 2**31) % 2**32) - 2**31
    ab = x * multiplier
    nudge = torch.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    v = ab + nudge
    high = torch.where(v >= 0, v >> 31, -((-v) >> 31))
    return _rdbpot(high, right)


def _per_row(pairs: tuple[tuple[int, int], ...], hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-gate (multiplier, shift) pairs as per-row tensors over the 4 * hidden gate rows."""
    m = torch.tensor([p[0] for p in pairs], dtype=torch.long).repeat_interleave(hidden)
    sh = torch.tensor([p[1] for p in pairs], dtype=torch.long).repeat_interleave(hidden)
    return m, sh


@cache
def _torch_table(tanh_integer_bits: int | None) -> torch.Tensor:
    """The integer sigmoid (None) or tanh table as an int64 tensor indexed by code + 32768."""
    t = sigmoid_table() if tanh_integer_bits is None else tanh_table(tanh_integer_bits)
    return torch.from_numpy(t.astype(np.int64))


class QLSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False, spec: QuantSpec = QuantSpec(),
                 out_quant: nn.Module | None = None):
        super().__init__()
        if spec.enabled and spec.weight_bits != 8:
            raise ValueError(f"QLSTM: TFLite's integer LSTM has int8 weights, not {spec.weight_bits}-bit")
        self.lstm = nn.LSTM(input_size, hidden_size, bidirectional=bidirectional)
        self.hidden_size = hidden_size
        self.n_dir = 2 if bidirectional else 1
        self.enabled = spec.enabled
        self.weight_quant = nn.ModuleList(WeightQuantizer(1, 8, 0, spec.enabled) for _ in range(8 * self.n_dir))
        self.out_quant = out_quant if out_quant is not None else spec.act()
        self.ema_alpha = spec.ema_alpha
        self.register_buffer("cell_max", torch.zeros(()))
        self.register_buffer("cell_obs", torch.zeros((), dtype=torch.long))

    # -- parameters ---------------------------------------------------------------------------------------------
    def _raw(self, d: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sfx = "_reverse" if d else ""
        lstm = self.lstm
        w_ih, w_hh = getattr(lstm, f"weight_ih_l0{sfx}"), getattr(lstm, f"weight_hh_l0{sfx}")
        bias = getattr(lstm, f"bias_ih_l0{sfx}") + getattr(lstm, f"bias_hh_l0{sfx}")
        return w_ih, w_hh, bias

    def _fake_weights(self, d: int) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor],
                                              list[torch.Tensor]]:
        """Per gate: fake-quantized input and recurrent matrices and their float32 scales."""
        w_ih, w_hh, _ = self._raw(d)
        ws, rs, sw, sr = [], [], [], []
        for g, (wi, wh) in enumerate(zip(w_ih.chunk(4), w_hh.chunk(4))):
            qi, qh = self.weight_quant[8 * d + g], self.weight_quant[8 * d + 4 + g]
            ws.append(qi(wi.reshape(1, -1)).reshape(wi.shape))
            rs.append(qh(wh.reshape(1, -1)).reshape(wh.shape))
            sw.append(qi.scale().reshape(()).to(torch.float32))
            sr.append(qh.scale().reshape(()).to(torch.float32))
        return ws, rs, sw, sr

    @property
    def cell_log2(self) -> int:
        if int(self.cell_obs) == 0:
            raise RuntimeError("QLSTM: the cell state range was never calibrated")
        return cell_log2_for(float(self.cell_max))

    @torch.no_grad()
    def export(self, input_scale: float) -> list[LstmCodes]:
        """Each direction's integer weights, scales and biases (for input scale ``input_scale``)."""
        out = []
        for d in range(self.n_dir):
            w_ih, w_hh, bias = self._raw(d)
            w_codes, s_w, r_codes, s_r, b_codes = [], [], [], [], []
            for g, (wi, wh, bg) in enumerate(zip(w_ih.chunk(4), w_hh.chunk(4), bias.chunk(4))):
                ci, si = self.weight_quant[8 * d + g].export(wi.reshape(1, -1))
                ch, sh = self.weight_quant[8 * d + 4 + g].export(wh.reshape(1, -1))
                w_codes.append(ci.reshape(wi.shape))
                r_codes.append(ch.reshape(wh.shape))
                s_w.append(float(si))
                s_r.append(float(sh))
                b_codes.append(export_bias(bg, input_scale, si.expand(bg.numel()))[0])
            out.append(LstmCodes(torch.stack(w_codes).numpy().astype(np.int8), tuple(s_w),
                                 torch.stack(r_codes).numpy().astype(np.int8), tuple(s_r),
                                 torch.stack(b_codes).numpy().astype(np.int32), self.cell_log2))
        return out

    # -- forward ------------------------------------------------------------------------------------------------
    def _observing(self, x: QTensor) -> bool:
        q = self.out_quant
        return (not x.is_quantized or int(self.cell_obs) == 0
                or (isinstance(q, ActQuantizer) and q.observing_now()))

    def forward(self, x: QTensor) -> QTensor:
        if not self.enabled:
            return QTensor(self.lstm(x.value)[0])
        x = x.with_value(x.value.transpose(0, 1))  # batch first inside
        if self._observing(x):
            return self.out_quant(self._float_observe(x.value).transpose(0, 1))
        outs = [self._direction(x, d) for d in range(self.n_dir)]
        y = outs[0].value if self.n_dir == 1 else torch.cat([o.value for o in outs], dim=-1)
        return outs[0].with_value(y.transpose(0, 1))

    def _float_observe(self, x: torch.Tensor) -> torch.Tensor:
        """The float recurrence (fake-quantized weights once calibrated), recording max |cell|."""
        hs, cmax = [], torch.zeros(())
        for d in range(self.n_dir):
            ws, rs, _, _ = self._fake_weights(d)
            _, _, bias = self._raw(d)
            w, r = torch.cat(ws), torch.cat(rs)
            xs = x.flip(1) if d else x
            zx = xs @ w.T + bias
            h = x.new_zeros(x.shape[0], self.hidden_size)
            c = torch.zeros_like(h)
            steps = []
            for t in range(x.shape[1]):
                i, f, g, o = (zx[:, t] + h @ r.T).chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                cmax = torch.maximum(cmax, c.detach().abs().max())
                steps.append(h)
            out = torch.stack(steps, dim=1)
            hs.append(out.flip(1) if d else out)
        if self.training or int(self.cell_obs) == 0 or getattr(self.out_quant, "observing", False):
            self._observe_cell(float(cmax))
        return torch.cat(hs, dim=-1)

    @torch.no_grad()
    def _observe_cell(self, m: float) -> None:
        if int(self.cell_obs) == 0:
            self.cell_max.fill_(m)
        else:
            self.cell_max.mul_(self.ema_alpha).add_((1 - self.ema_alpha) * m)
        self.cell_obs += 1

    def _direction(self, x: QTensor, d: int) -> QTensor:
        from fqss_edge.export.tflite.reference.lstm import (
            lstm_multipliers,  # Prepare's multipliers
        )

        s_x = x.scale.to(torch.float32)
        s_h = float(self.out_quant.qparams()[0].detach())
        ws, rs, sw, sr = self._fake_weights(d)
        bias = self._raw(d)[2]
        bq = torch.cat([quantize_bias(bg, s_x, s) for bg, s in zip(bias.chunk(4), sw)])
        m = lstm_multipliers(float(s_x), [float(s.detach()) for s in sw], [float(s.detach()) for s in sr], s_h, s_h)
        w, r = torch.cat(ws), torch.cat(rs)
        xv = x.value.flip(1) if d else x.value
        with torch.no_grad():  # integer codes held in float64 (exact: every sum is far below 2^53)
            rows = lambda v: torch.stack(v).detach().repeat_interleave(self.hidden_size).double()
            w_codes = torch.round(w.double() / rows(sw).unsqueeze(1))
            r_codes = torch.round(r.double() / rows(sr).unsqueeze(1))
            b_codes = torch.round(bq.double() / rows([s_x * s for s in sw]))
            acc_x = (torch.round(xv.double() / s_x.double()) @ w_codes.T + b_codes).long()  # every step at once
            gate_x = torch.clamp(_mbqm(acc_x, *_per_row(m.input, self.hidden_size)), -32768, 32767)
        surrogate = (xv @ w.T + bq, r) if torch.is_grad_enabled() else None
        y = self._run(gate_x, r_codes, m, x, surrogate)
        return y.with_value(y.value.flip(1)) if d else y

    def _run(self, gate_x: torch.Tensor, r_codes: torch.Tensor, m, x: QTensor,
             surrogate: tuple[torch.Tensor, torch.Tensor] | None) -> QTensor:
        """The recurrence over time: integer (int64), and its float twin when gradients are wanted."""
        hid, cell_log2 = self.hidden_size, self.cell_log2
        sig, tanh3, tanh_c = _torch_table(None), _torch_table(3), _torch_table(15 + cell_log2)
        rec_m, rec_s = _per_row(m.recurrent, hid)
        s_h, zp = (t.detach() for t in self.out_quant.qparams())
        zh = int(zp)
        n_batch, n_time = gate_x.shape[:2]
        h = torch.full((n_batch, hid), zh, dtype=torch.long)
        c = torch.zeros_like(h)
        hf = cf = x.value.new_zeros(n_batch, hid)
        outs = []
        for t in range(n_time):
            with torch.no_grad():
                a = torch.clamp(gate_x[:, t] + _mbqm(((h - zh).double() @ r_codes.T).long(), rec_m, rec_s), -32768,
                                32767)
                i, f, o = (sig[a[:, k * hid:(k + 1) * hid] + 32768] for k in (0, 1, 3))
                g = tanh3[a[:, 2 * hid:3 * hid] + 32768]
                c = _rdbpot(f * c, 15)
                c = torch.clamp(c + _rdbpot(i * g, 30 + cell_log2), -32768, 32767)
                h = torch.clamp(_mbqm(o * tanh_c[c + 32768], *m.hidden) + zh, -128, 127)
            if surrogate is None:
                outs.append((h - zh).to(torch.float32) * s_h)
                continue
            hf, cf = self._surrogate_step(surrogate[0][:, t] + hf @ surrogate[1].T, a, (i, f, g, o), c, cf,
                                          (h - zp) * s_h)
            outs.append(hf)
        return QTensor(torch.stack(outs, dim=1), s_h, zp, self.out_quant.bits)

    def _surrogate_step(self, z: torch.Tensor, a: torch.Tensor, gates: tuple[torch.Tensor, ...], c_int: torch.Tensor,
                        cf: torch.Tensor, h_exact: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One float step (pre-activations ``z``) whose values are replaced by the integer ones (straight-through)."""

        def ste(v: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
            return v + (exact.to(v.dtype) - v).detach()

        zi, zf, zg, zo = ste(z, a * _GATE_SCALE).chunk(4, dim=-1)
        i_int, f_int, g_int, o_int = gates
        i = ste(torch.sigmoid(zi), i_int / 32768.0)
        f = ste(torch.sigmoid(zf), f_int / 32768.0)
        g = ste(torch.tanh(zg), g_int / 32768.0)
        o = ste(torch.sigmoid(zo), o_int / 32768.0)
        cf = ste(f * cf + i * g, c_int * 2.0**self.cell_log2)
        hq = self.out_quant(o * torch.tanh(cf)).value  # the output range's gradient
        return ste(hq, h_exact), cf
