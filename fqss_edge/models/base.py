"""The contract every separation model meets: ``SeparationModel``.

A model maps a waveform ``[B, C, T]`` in [-1, 1) to its sources ``[B, n_src * C, T]``, with C =
``config.audio_channels`` (1 mono, 2 stereo) and the output **source-major**: source 0 channel 0, source 0 channel
1, source 1 channel 0, ... (``[B, n_src, C, T]`` flattened). The base owns what FQSS adds around any network, so
that no architecture repeats it:

* the **input**: the FQSS splitter (the two bytes of 16-bit PCM as two int8 channels per audio channel) or a
  plain learned-range input quantizer (``self.input``); the first layer (``input_layer``) reads
  ``self.in_channels`` = C (plain) or 2 C (splitter) channels. The splitter's channels are **byte-major**: the high
  bytes of channels 0 .. C-1, then their low bytes (``[hi_0, lo_0]`` for mono, ``[hi_0, hi_1, lo_0, lo_1]`` for
  stereo). The input layer reads the low bytes offset-free, as ``(p & 0xFF) / 128`` (``LOW_BYTE_OFFSET``), so
  that digital silence (p = 0) is zero on every channel, as it is for the float model;
* the **output**: the decoder (the last layer, whose output is the waveform) and, with FQSS, the residual output
  block around it (``self.residual``): the output is then ``y0 + y1 / 256``, again 16-bit PCM;
* the **I/O contract**: sample rate, source names, the length rule (``length_multiple``, ``min_length``) and the
  output's LSB, which every runtime and export reads from ``io_contract`` and never from a model's attributes;
* **seeding a quantized student from a float model** (``init_from_float``).

An architecture implements ``forward_latent`` (the decoder's input from the quantized input) and calls
``set_decoder`` once in its constructor. Models that mask a learned representation (Conv-TasNet, DPRNN, ...) build
on ``MaskingModel``: encoder -> masker -> apply masks -> decoder, each a small method (asteroid's
``BaseEncoderMaskerDecoder``). Models that predict the waveform directly (U-Nets, FlatConv) implement
``forward_latent`` themselves. ``forward_core`` is the graph that export writes (traced, not re-written).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from fqss_edge.config_types import ModelConfigBase
from fqss_edge.errors import FqssError
from fqss_edge.quant.layers import (InputQuant, InputSplitter, QConv1d, QConvTranspose1d, QMul, QReLU,
                                    ResidualOutput)
from fqss_edge.quant.layers.io import BYTE_SCALE, LOW_BYTE_OFFSET, PCM16_SCALE
from fqss_edge.quant.qtensor import QTensor
from fqss_edge.quant.quantizers import FixedQuantizer
from fqss_edge.quant.spec import FLOAT, QuantSpec
from fqss_edge.quant.tools import init_weight_ranges, is_quantizer_key, quantizer_prefixes
from fqss_edge.runtimes.base import IoContract


class SeparationModel(nn.Module):
    config_class: ClassVar[type[ModelConfigBase]]
    input_layer: ClassVar[str]  # module path of the layer that reads the model input (a QConv1d)
    # float checkpoint tensor that seeds the residual block's re-encoder (None: its own initialisation)
    reencoder_seed: ClassVar[str | None] = None
    # True: the .tflite needs a fixed input length (``export(..., length=T)``): an LSTM whose batch follows the
    # input length (DPRNN's intra-chunk LSTM: batch = chunks) has state tensors of a fixed batch
    fixed_length_tflite: ClassVar[bool] = False
    length_multiple: int = 1  # T % length_multiple == 0
    min_length: int = 1  # T >= min_length

    def __init__(self, config: ModelConfigBase, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, not {type(config).__name__}")
        self.config = config
        self.n_src = config.n_src
        self.audio_channels = config.audio_channels
        self.spec = spec
        self.splitter = splitter
        self.residual_output = residual_output
        self.input = InputSplitter(spec) if splitter else InputQuant(spec)

    # -- what an architecture provides ----------------------------------------------------------------------
    def forward_latent(self, x: QTensor) -> QTensor:
        """The quantized input [B, in_channels, T] -> the decoder's input (whose decoding is [B, n_src * C, T] or
        [B * n_src, C, T], source-major)."""
        raise NotImplementedError

    # -- the FQSS input and output --------------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        """Channels of the quantized input: the splitter's two bytes per audio channel (byte-major: all high
        bytes, then all low bytes), or the waveform's channels themselves."""
        return self.audio_channels * (2 if self.splitter else 1)

    def output_quant(self) -> nn.Module:
        """The decoder's output quantizer: the high byte (scale 1/128) with the residual output block."""
        return self.spec.fixed(BYTE_SCALE, 0) if self.residual_output else self.spec.act()

    def waveform_decoder(self, in_channels: int, kernel_size: int = 1, padding: int = 0) -> QConv1d:
        """The last layer of a model that predicts waveforms (U-Nets, FlatConv): ``n_src * audio_channels``
        outputs, source-major; no bias (with FQSS it decodes y0 and the residual y1 alike, ``ResidualOutput``)."""
        return QConv1d(in_channels, self.n_src * self.audio_channels, kernel_size, padding=padding, bias=False,
                       spec=self.spec, out_quant=self.output_quant())

    def set_decoder(self, decoder: QConv1d | QConvTranspose1d) -> None:
        """Register the layer whose output is the waveform, and the residual output block around it; with the
        splitter, the input layer (built before) reads the low byte offset-free."""
        if self.splitter:
            layer = self._input_layer()
            c = self.audio_channels
            layer.set_input_offset([0.0] * c + [LOW_BYTE_OFFSET] * c)
            pad = layer.conv.padding[0]
            if pad:  # the zero padding moves before the split: padded samples are then silence (see InputSplitter)
                self.input.pad = (pad, pad)
                layer.conv.padding = (0,)
        q = decoder.out_quant
        if self.residual_output and not (isinstance(q, FixedQuantizer) and q.export_qparams() == (BYTE_SCALE, 0)):
            raise ValueError(f"{type(self).__name__}: with the residual output the decoder's output quantizer is "
                             f"the high byte: pass out_quant=self.output_quant()")
        self.decoder = decoder
        self.residual = ResidualOutput(decoder, self.spec) if self.residual_output else None

    def _input_layer(self) -> QConv1d:
        try:
            layer = self.get_submodule(self.input_layer)
        except AttributeError:
            layer = None
        if not isinstance(layer, QConv1d):
            raise ValueError(f"{type(self).__name__}: input_layer {self.input_layer!r} must be a QConv1d built before "
                             f"set_decoder is called")
        return layer

    def forward_decoder(self, latent: QTensor) -> torch.Tensor:
        """The waveform (float values): ``y0 + y1 / 256`` with the residual output block."""
        if self.residual is not None:
            return self.residual(latent)
        return self.decoder(latent).value

    # -- whole model ----------------------------------------------------------------------------------------
    def forward_core(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, C, T] with T valid -> [B, n_src * C, T] (source-major): the graph that export writes."""
        b, t = wav.shape[0], wav.shape[-1]
        return self.forward_decoder(self.forward_latent(self.input(wav))).view(b, self.n_src * self.audio_channels, t)

    def valid_length(self, n: int) -> int:
        """The shortest length >= n the model accepts."""
        n = max(n, self.min_length)
        return -(-n // self.length_multiple) * self.length_multiple

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, T] (mono) or [B, C, T] waveform in [-1, 1) -> [B, n_src * C, T] (other lengths zero-padded, cropped
        back)."""
        if wav.dim() == 2 and self.audio_channels == 1:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3 or wav.shape[1] != self.audio_channels:
            raise ValueError(f"{type(self).__name__}: input {tuple(wav.shape)}, expected [B, {self.audio_channels}, T]")
        t = wav.shape[-1]
        pad = self.valid_length(t) - t
        if pad:
            wav = F.pad(wav, (0, pad))
        return self.forward_core(wav)[..., :t]

    # -- what runtimes and exports read ---------------------------------------------------------------------
    @property
    def quantized(self) -> bool:
        return bool(self.spec.enabled)

    def output_lsb(self, quantized: bool | None = None) -> float:
        """One step of the output: 1/32768 (16-bit PCM) for FQSS and float models, the output scale otherwise."""
        quantized = self.quantized if quantized is None else quantized
        if quantized and self.residual is None:
            return float(self.decoder.out_quant.export_qparams()[0])
        return PCM16_SCALE

    def io_contract(self, quantized: bool | None = None) -> IoContract:
        return IoContract(sample_rate=self.config.sample_rate, n_src=self.n_src, stride=self.length_multiple,
                          kernel_size=self.min_length, output_lsb=self.output_lsb(quantized),
                          source_names=tuple(self.config.source_names), audio_channels=self.audio_channels)

    # -- seeding a quantized student ------------------------------------------------------------------------
    def float_source(self, key: str) -> str | None:
        """The float model's tensor that seeds ``key`` of this model (None: keep this model's initialisation)."""
        if key == f"{self.input_layer}.input_offset":
            return None  # the splitter's coding, not a weight
        if key.startswith("residual.reencoder."):
            return None if self.reencoder_seed is None else self.reencoder_seed + key[len("residual.reencoder.conv"):]
        return key

    @torch.no_grad()
    def init_from_float(self, float_state: dict[str, torch.Tensor]) -> None:
        """Copy a float model's weights; quantizer ranges are left to calibration, weight ranges initialised.

        The splitter's low-byte input channel starts at w / 256: the input layer reads x = x_hi + x_lo / 256
        exactly (its low byte offset-free), so ``[w, w / 256]`` reproduces the float first layer. (Drawing it with the
        statistics of w, as the FQSS reference does, feeds the full-scale noise-like low byte through at full
        gain: measured -2.3 dB SI-SDRi after 200 QAT steps on the tiny Conv-TasNet, vs 4.3 dB for vanilla QAT.)
        w / 256 quantizes to 0 at first; the straight-through gradient lets training grow it."""
        prefixes = quantizer_prefixes(self)
        input_weight = f"{self.input_layer}.conv.weight"
        missing = []
        for key, value in self.state_dict().items():
            if is_quantizer_key(key, prefixes):
                continue
            src_key = self.float_source(key)
            if src_key is None:
                continue
            src = float_state.get(src_key)
            if src is None:
                missing.append(key)
            elif src.shape == value.shape:
                value.copy_(src)
            elif key == input_weight and value.shape[1] == 2 * src.shape[1]:
                value[:, : src.shape[1]].copy_(src)
                value[:, src.shape[1]:].copy_(src / 256.0)
            else:
                raise FqssError(f"teacher checkpoint: tensor {key} has shape {tuple(src.shape)}, "
                                f"the model needs {tuple(value.shape)} (different model config?)")
        if missing:
            raise FqssError(f"teacher checkpoint: missing tensors {', '.join(missing[:4])}"
                            f"{' ...' if len(missing) > 4 else ''} (is it a float checkpoint of this model?)")
        init_weight_ranges(self)


class MaskingModel(SeparationModel):
    """encoder -> masker -> apply masks -> decoder (asteroid's ``BaseEncoderMaskerDecoder``).

    Subclasses set ``self.encoder`` (+ optional ``self.enc_act``), ``self.masker`` (representation [B, N, F] ->
    masks [B, n_src * N, F]) and call ``set_decoder`` with a decoder of the masked representation [B * n_src, N, F]
    into [B * n_src, 1, T]; ``build_filterbank`` does all of it for a Conv1d / ConvTranspose1d filterbank."""

    input_layer = "encoder"
    reencoder_seed = "encoder.conv"  # the encoder is the decoder's approximate inverse

    def __init__(self, config: ModelConfigBase, spec: QuantSpec = FLOAT, splitter: bool = False,
                 residual_output: bool = False):
        super().__init__(config, spec, splitter, residual_output)
        self.enc_act: nn.Module | None = None

    def build_filterbank(self, n_filters: int, kernel_size: int, stride: int, masker: Callable[[], nn.Module],
                         enc_act: bool, padding: int = 0) -> None:
        """The learned filterbank around a masker, built in this order: the encoder (``n_filters`` Conv1d
        filters, no bias, ``padding`` zeros each side), its ReLU if ``enc_act``, ``masker()``, the mask product and
        the transposed-convolution decoder with the same kernel, stride and padding."""
        spec = self.spec
        self.encoder = QConv1d(self.in_channels, n_filters, kernel_size, stride, padding, bias=False, spec=spec)
        if enc_act:
            self.enc_act = QReLU(spec)
        self.masker = masker()
        self.apply_mask = QMul(spec)
        self.set_decoder(QConvTranspose1d(n_filters, self.audio_channels, kernel_size, stride, padding, bias=False,
                                          spec=spec, out_quant=self.output_quant()))

    def forward_encoder(self, x: QTensor) -> QTensor:
        """The quantized input [B, in_channels, T] -> representation [B, N, F]."""
        tf = self.encoder(x)
        return self.enc_act(tf) if self.enc_act is not None else tf

    def forward_masker(self, tf_rep: QTensor) -> QTensor:
        """[B, N, F] -> masks [B, n_src * N, F]."""
        return self.masker(tf_rep)

    def apply_masks(self, tf_rep: QTensor, masks: QTensor) -> QTensor:
        """-> masked representation [B * n_src, N, F] (quantized by ``self.apply_mask``, a QMul)."""
        b, n, f = tf_rep.value.shape
        m = masks.value.view(b, self.n_src, n, f)
        masked = self.apply_mask(tf_rep.with_value(tf_rep.value.unsqueeze(1)), masks.with_value(m))
        return masked.with_value(masked.value.reshape(b * self.n_src, n, f))

    def forward_latent(self, x: QTensor) -> QTensor:
        tf_rep = self.forward_encoder(x)
        return self.apply_masks(tf_rep, self.forward_masker(tf_rep))

