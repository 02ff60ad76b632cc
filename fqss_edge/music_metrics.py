"""Music separation scores: museval's BSSEval v4 (SiSEC 2018), as the papers report them.

Per track, ``museval.evaluate`` (mode v4) gives SDR / SIR / ISR / SAR on 1 s windows (hop 1 s) for every stem;
a track's score is the median over its windows (NaN windows, e.g. a silent reference, left out), and a data set's
the median over tracks. Per-track JSON is museval's own ``TrackStore.json``. These figures are never put in one
table with the speech metrics' SDR (fast_bss_eval, ``fqss_edge.metrics``): the two do not agree.

museval is an optional dependency (``pip install 'fqss-edge[music]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fqss_edge.errors import FqssError

METRICS = ("SDR", "SIR", "ISR", "SAR")


def _museval() -> Any:
    try:
        import museval
    except (ImportError, RuntimeError) as e:  # museval imports musdb -> stempeg, which needs ffmpeg on PATH
        raise FqssError(f"museval is not usable ({' '.join(str(e).split())[:120]}): pip install 'fqss-edge[music]' "
                        "(and ffmpeg, which musdb's stempeg looks for)") from None
    return museval


def score_track(estimates: np.ndarray, references: np.ndarray, names: list[str], rate: int, track: str) -> Any:
    """museval's ``TrackStore`` of one track. ``estimates``, ``references``: [S * C, T] (source-major, the models'
    layout) or [S, C, T]; ``names``: the S stems; windows of ``rate`` samples (1 s)."""
    museval = _museval()
    s = len(names)
    est = np.asarray(estimates, dtype=np.float64).reshape(s, -1, estimates.shape[-1]).transpose(0, 2, 1)
    ref = np.asarray(references, dtype=np.float64).reshape(s, -1, references.shape[-1]).transpose(0, 2, 1)
    sdr, isr, sir, sar = museval.evaluate(ref, est, win=rate, hop=rate, mode="v4", padding=True)
    store = museval.TrackStore(track_name=track, win=1.0, hop=1.0)
    for i, name in enumerate(names):
        store.add_target(target_name=name, values={"SDR": sdr[i].tolist(), "SIR": sir[i].tolist(),
                                                    "ISR": isr[i].tolist(), "SAR": sar[i].tolist()})
    return store


def track_medians(store: Any) -> dict[str, dict[str, float]]:
    """{stem: {metric: median over the track's windows}} (NaN windows left out, as museval aggregates)."""
    out = {}
    for target in store.scores["targets"]:
        frames = target["frames"]
        out[target["name"]] = {m: _nanmedian([f["metrics"][m] for f in frames]) for m in METRICS}
    return out


def median_over_tracks(per_track: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """{stem: {metric: median over tracks of the track medians}}: the SiSEC 2018 figure."""
    names = list(per_track[0]) if per_track else []
    return {n: {m: _nanmedian([t[n][m] for t in per_track]) for m in METRICS} for n in names}


def _nanmedian(values: list[float]) -> float:
    v = np.asarray([np.nan if x is None else x for x in values], dtype=np.float64)
    return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")


def write_track_json(store: Any, out_dir: Path) -> Path:
    """``out_dir/<track>.json``: museval's own JSON of the track (validated against its schema)."""
    from fqss_edge.fileio import atomic_write

    store.validate()
    path = Path(out_dir) / f"{store.track_name}.json"
    with atomic_write(path) as tmp:
        Path(tmp).write_text(store.json)
    return path
