"""``fqss-edge analyze``: where the bits matter in a quantized separation model.

* ``switches``: which quantizers are on (the float twin, one layer alone) and at which bit width;
* ``sqnr``: per-tensor SQNR of the quantized model against its float twin along the network;
* ``sensitivity``: per layer, that layer alone quantized -> ΔSI-SDR and the KL divergence of the outputs' spectral
  energy distributions; a Hutchinson estimate of the loss Hessian's trace times the weight quantization noise;
* ``ceiling``: measured SI-SDR against output / input bit width with the 1/SDR_q = 1/SDR + 1/SQNR prediction;
* ``plan``: a mixed-precision plan (weights 4 / 8, activations 8 / 16 bits per layer) within a size budget;
* ``report``: all of it as ``report.json`` and ``index.html`` with plots.
"""
