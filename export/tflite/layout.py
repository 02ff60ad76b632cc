"""ONNX (N, C, T) layouts -> TFLite NHWC layouts, and the plan for a layout-aware reshape.

Every activation of a given ONNX rank has ONE TFLite layout (``std_layout``), so operators never need to
know where a tensor came from:

* rank 3 ``[N, C, T]``  -> ``[N, 1, T, C]`` (NHWC with H = 1: conv stacks need no TRANSPOSE)
* rank 4 ``[A, B, C, D]`` -> ``[A, D, B, C]`` (time second, channels last: the masks ``[1, S*N, F]`` ->
  ``[1, S, N, F]`` reshape is then a plain RESHAPE)
* rank 1, 2: unchanged.

A layout is a tuple over TFLite axes giving the ONNX axis each holds (-1: an inserted unit axis).
"""

from __future__ import annotations

import numpy as np

from fqss_edge.errors import FqssError

Layout = tuple[int, ...]

_LAYOUTS: dict[int, Layout] = {0: (), 1: (0,), 2: (0, 1), 3: (0, -1, 2, 1), 4: (0, 3, 1, 2)}


def std_layout(rank: int) -> Layout:
    if rank not in _LAYOUTS:
        raise FqssError(f"TFLite export: rank-{rank} activations are not supported (ranks 1 to 4)")
    return _LAYOUTS[rank]


def to_tflite_shape(shape: tuple[int, ...], layout: Layout | None = None) -> tuple[int, ...]:
    layout = std_layout(len(shape)) if layout is None else layout
    return tuple(1 if p < 0 else int(shape[p]) for p in layout)


def to_tflite_flags(flags: tuple[bool, ...], layout: Layout | None = None) -> tuple[bool, ...]:
    layout = std_layout(len(flags)) if layout is None else layout
    return tuple(False if p < 0 else bool(flags[p]) for p in layout)


def to_tflite_array(a: np.ndarray) -> np.ndarray:
    """A constant in ONNX layout -> the same constant in the TFLite layout of its rank."""
    layout = std_layout(a.ndim)
    onnx_axes = [p for p in layout if p >= 0]
    out = np.transpose(a, onnx_axes)
    return out.reshape(to_tflite_shape(a.shape, layout))


def tflite_axis(onnx_axis: int, rank: int) -> int:
    """TFLite axis holding ONNX axis ``onnx_axis`` of a rank-``rank`` tensor."""
    onnx_axis = onnx_axis % rank if rank else 0
    return std_layout(rank).index(onnx_axis)


def inner_axis_perm(rank: int, onnx_axis: int) -> tuple[int, ...]:
    """The TFLite permutation of a rank-``rank`` std layout that makes ONNX axis ``onnx_axis`` innermost (the others
    kept in order): what an operator over the last axis (FULLY_CONNECTED, SOFTMAX) needs; identity when it is."""
    lay = std_layout(rank)
    a = onnx_axis % rank
    target = [p for p in lay if p != a] + [a]
    return tuple(lay.index(p) for p in target)


def _groups(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[tuple[list[int], list[int]]]:
    """Split the non-unit axes of a reshape into groups of equal element count (contiguous in ONNX order)."""
    ia = [i for i, s in enumerate(in_shape) if s != 1]
    oa = [i for i, s in enumerate(out_shape) if s != 1]
    groups: list[tuple[list[int], list[int]]] = []
    i = j = 0
    while i < len(ia) or j < len(oa):
        gi, gj = [], []
        pi = pj = 1
        while True:
            if pi <= pj and i < len(ia):
                pi *= in_shape[ia[i]]
                gi.append(ia[i])
                i += 1
            elif j < len(oa):
                pj *= out_shape[oa[j]]
                gj.append(oa[j])
                j += 1
            else:
                break
            if pi == pj and gi and gj:
                break
        if pi != pj:
            raise ValueError(f"cannot reshape {in_shape} to {out_shape}")
        groups.append((gi, gj))
    return groups


def reshape_plan(in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                 in_shape2: tuple[int, ...] | None = None, out_shape2: tuple[int, ...] | None = None
                 ) -> tuple[int, ...] | str | None:
    """How to reshape a std-layout TFLite tensor so that it holds the ONNX reshape's output in std layout.

    Returns ``None`` when a RESHAPE alone is right, the TRANSPOSE permutation (over the input's TFLite axes) to
    apply before the RESHAPE, or ``"canonical"`` when the data must go through ONNX order (TRANSPOSE, RESHAPE,
    TRANSPOSE). ``in_shape2``/``out_shape2`` are the same shapes at a second input
    length: the grouping must hold for both (dynamic lengths).
    """
    groups = _groups(in_shape, out_shape)
    if in_shape2 is not None and out_shape2 is not None:
        if [(sorted(a), sorted(b)) for a, b in _groups(in_shape2, out_shape2)] != \
                [(sorted(a), sorted(b)) for a, b in groups]:
            raise FqssError(f"TFLite export: reshape {in_shape} -> {out_shape} changes its axis grouping with the "
                            "input length")
    lin, lout = std_layout(len(in_shape)), std_layout(len(out_shape))
    mem_out = [p for p in lout if p >= 0 and out_shape[p] != 1]
    group_of_out = {a: k for k, (_, outs) in enumerate(groups) for a in outs}
    order: list[int] = []
    for a in mem_out:
        k = group_of_out[a]
        if not order or order[-1] != k:
            if k in order:  # e.g. channels split into (heads, channels) with time between: through ONNX order
                return "canonical"
            order.append(k)
    for k, (_, outs) in enumerate(groups):  # out axes of a group must be in ONNX order in memory
        mem = [a for a in mem_out if a in outs]
        if mem != sorted(mem):
            return "canonical"
    wanted = [a for k in order for a in sorted(groups[k][0])]  # ONNX input axes in the memory order needed
    tfl_dim = {p: t for t, p in enumerate(lin) if p >= 0}
    perm_nonunit = [tfl_dim[a] for a in wanted]
    current = [t for t, p in enumerate(lin) if p >= 0 and in_shape[p] != 1]
    if perm_nonunit == current:
        return None
    units = [t for t in range(len(lin)) if t not in perm_nonunit]
    return tuple(units + perm_nonunit)


def activation_to_onnx_layout(a: np.ndarray) -> np.ndarray:
    """A TFLite activation in its ``std_layout`` -> the ONNX layout (inverse of ``to_tflite_shape``).

    A rank-4 TFLite tensor whose axis 1 is a unit axis is read as rank-3 ``[N, C, T]`` (axis 1 is the inserted
    H = 1); any other rank-4 tensor as rank-4 ``[A, B, C, D]``. (A rank-4 ONNX tensor with D = 1 comes back as
    rank 3: its shape then differs from the ONNX one, which callers report.) Ranks 0-2 are unchanged.
    """
    if a.ndim != 4:
        return a
    if a.shape[1] == 1:
        return a[:, 0].transpose(0, 2, 1)
    return a.transpose(0, 2, 3, 1)
