"""asteroid's ``model_args`` (what ``BaseModel.serialize()`` saves beside the state dict) -> our model config.

``model_args`` is the filterbank's config (``fb_name``, ``n_filters``, ``kernel_size``, ``stride``, ``sample_rate``),
the masker's (``get_config()``) and ``encoder_activation``. Every key has one fate: copied to our config under the
same name, renamed, or checked against the values our architecture implements (``norm_type: gLN``, ``causal:
False``, a free filterbank, ``hop_size = chunk_size / 2``, ...). A value we do not implement, or a key we do not
know, is a one-line ``FqssError`` naming the file and the key; nothing is silently dropped except ``dropout``
(training only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fqss_edge.errors import FqssError

# asteroid's class name (``model_name`` in its files) -> our architecture
ASTEROID_MODELS = {"ConvTasNet": "convtasnet", "DPRNNTasNet": "dprnn", "DPTNet": "dptnet"}
ASTEROID_NAMES = {v: k for k, v in ASTEROID_MODELS.items()}

_COPIED = {
    "convtasnet": ("n_src", "n_filters", "kernel_size", "stride", "bn_chan", "hid_chan", "skip_chan",
                   "conv_kernel_size", "n_blocks", "n_repeats", "mask_act"),
    "dprnn": ("n_src", "n_filters", "kernel_size", "stride", "bn_chan", "hid_size", "chunk_size", "n_repeats",
              "mask_act", "bidirectional"),
    "dptnet": ("n_src", "n_filters", "kernel_size", "stride", "n_heads", "ff_hid", "chunk_size", "n_repeats",
               "mask_act", "bidirectional", "ff_activation"),
}
_IGNORED = {"dropout"}  # training only: no effect on the weights or the forward in eval mode


def _check(key: str, ok: Callable[[Any, Mapping[str, Any]], bool], supported: str):
    return key, ok, supported


# keys whose value must be one our architecture implements: (key, predicate(value, args), what is supported)
_FIXED = {
    "convtasnet": [
        _check("norm_type", lambda v, a: v == "gLN", "gLN"),
        _check("causal", lambda v, a: v is False, "False"),
        _check("out_chan", lambda v, a: v is None or v == a.get("n_filters"), "n_filters (or None)"),
    ],
    "dprnn": [
        _check("norm_type", lambda v, a: v == "gLN", "gLN"),
        _check("rnn_type", lambda v, a: str(v).upper() == "LSTM", "LSTM"),
        _check("num_layers", lambda v, a: v == 1, "1"),
        _check("use_mulcat", lambda v, a: v is False, "False"),
        _check("out_chan", lambda v, a: v is None or v == a.get("n_filters"), "n_filters (or None)"),
        _check("hop_size", lambda v, a: v is None or 2 * v == a.get("chunk_size"), "chunk_size / 2 (or None)"),
    ],
    "dptnet": [
        _check("norm_type", lambda v, a: v == "gLN", "gLN"),
        _check("hop_size", lambda v, a: v is None or 2 * v == a.get("chunk_size"), "chunk_size / 2 (or None)"),
    ],
}
_COMMON_FIXED = [
    _check("fb_name", lambda v, a: v in ("free", "FreeFB"), "a free filterbank (free / FreeFB)"),
    _check("in_chan", lambda v, a: v is None or v == a.get("n_filters"), "n_filters (or None)"),
]


def _encoder_act(arch: str, value: Any, source: str) -> dict[str, Any]:
    act = "none" if value in (None, "linear") else value
    if arch == "convtasnet" and act in ("none", "relu"):
        return {"encoder_act": act}
    if (arch, act) in (("dprnn", "none"), ("dptnet", "relu")):
        return {}  # the architecture's only encoder activation
    raise FqssError(f"{source}: model_args encoder_activation={value!r} is not supported by fqss-edge's {arch}")


def _sample_rate(value: Any, source: str) -> int:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != int(value) or value <= 0:
        raise FqssError(f"{source}: model_args sample_rate={value!r} is not a positive whole number of Hz")
    return int(value)


def config_from_model_args(arch: str, args: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Our model config (a dict for ``parse_config``'s ``model`` section) from asteroid's ``model_args``."""
    if not isinstance(args, Mapping):
        raise FqssError(f"{source}: model_args is a {type(args).__name__}, not a mapping")
    model: dict[str, Any] = {"name": arch}
    handled = set(_IGNORED)
    for key in _COPIED[arch]:
        if key in args:
            model[key] = args[key]
            handled.add(key)
    for key, ok, supported in _FIXED[arch] + _COMMON_FIXED:
        if key in args:
            if not ok(args[key], args):
                raise FqssError(f"{source}: model_args {key}={args[key]!r} is not supported by fqss-edge's {arch} "
                                f"(supported: {supported})")
            handled.add(key)
    if args.get("stride", 0) is None:  # asteroid: None means kernel_size // 2
        model["stride"] = int(args.get("kernel_size", 16)) // 2
    if "encoder_activation" in args:
        model.update(_encoder_act(arch, args["encoder_activation"], source))
        handled.add("encoder_activation")
    if "sample_rate" in args:
        model["sample_rate"] = _sample_rate(args["sample_rate"], source)
        handled.add("sample_rate")
    unknown = sorted(str(k) for k in args if k not in handled)
    if unknown:
        raise FqssError(f"{source}: model_args {unknown[0]} is not a {ASTEROID_NAMES[arch]} argument fqss-edge "
                        f"knows (unknown: {', '.join(unknown)})")
    return model
