"""A self-contained HTML summary page: listen to the mixture and every model's sources (beside the reference
sources when they are known), see their waveforms and spectrograms, and read the metrics and latency tables.

    build_summary_page("site/", "mix.wav", {"float": [s1, s2], "int8 tflite": [t1, t2]},
                       metrics_table=[{"model": "float", "SI-SDRi (dB)": 14.1}, ...],
                       latency_table=[{"runtime": "litert-xnnpack", "ms per 4 s": 61.2}, ...],
                       title="fqss-edge: 2-speaker separation")

Everything the page shows is copied next to ``index.html`` (``audio/``, ``img/``) and linked relatively, so the
folder can be zipped, served by any static web server, or opened from disk. A small inline script marks each
``<audio>`` and ``<img>`` with ``data-status="ok"`` or ``"error"`` once it loads, plus ``data-ready-state`` /
``data-natural-width`` (used by the page's tests; the footer shows visitors how many media loaded).
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fqss_edge.errors import FqssError
from fqss_edge.fileio import atomic_write
from fqss_edge.report.plots import waveform_spectrogram_png

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 1rem; }
figure { margin: 0; padding: .6rem; border: 1px solid #e3e3e3; border-radius: 6px; background: #fafafa; }
figure img { width: 100%; height: auto; display: block; } audio { width: 100%; margin-top: .4rem; }
figcaption { font-weight: 600; font-size: .9rem; margin-bottom: .3rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f0f0f0; }
footer { margin-top: 2rem; color: #777; font-size: .8rem; }
"""

STATUS_SCRIPT = """
(function () {
  function mark(el, ok) {
    el.setAttribute("data-status", ok ? "ok" : "error");
    if (el.tagName === "AUDIO") el.setAttribute("data-ready-state", String(el.readyState));
    else el.setAttribute("data-natural-width", String(el.naturalWidth));
    update();
  }
  function update() {
    var all = document.querySelectorAll("audio, img"), ok = 0, bad = 0;
    all.forEach(function (el) {
      var s = el.getAttribute("data-status");
      if (s === "ok") ok++;
      if (s === "error") bad++;
    });
    var f = document.getElementById("media-status");
    if (f) f.textContent = ok + " of " + all.length + " media loaded" + (bad ? ", " + bad + " failed" : "");
  }
  document.querySelectorAll("audio").forEach(function (a) {
    if (a.readyState >= 1) mark(a, true);
    a.addEventListener("loadedmetadata", function () { mark(a, true); });
    a.addEventListener("error", function () { mark(a, false); }, true);
    var s = a.querySelector("source"); if (s) s.addEventListener("error", function () { mark(a, false); });
    a.load();
  });
  document.querySelectorAll("img").forEach(function (i) {
    if (i.complete) mark(i, i.naturalWidth > 0);
    i.addEventListener("load", function () { mark(i, i.naturalWidth > 0); });
    i.addEventListener("error", function () { mark(i, false); });
  });
  update();
})();
"""


def build_summary_page(out_dir: str | Path, mixture_wav: str | Path, outputs: Mapping[str, Sequence[str | Path]],
                       metrics_table: Sequence[Mapping[str, Any]] = (),
                       latency_table: Sequence[Mapping[str, Any]] = (),
                       title: str = "fqss-edge separation",
                       references: Sequence[str | Path] = (),
                       notes: Mapping[str, Sequence[str]] | None = None,
                       utterance_table: Sequence[Mapping[str, Any]] = (),
                       source_names: Sequence[str] = (), latency_note: str | None = None) -> Path:
    """Write ``out_dir/index.html`` (+ ``audio/``, ``img/``) and return its path.

    ``outputs``: model label -> its separated wavs (one per source, in source order). ``references``: the true
    sources of the mixture, in the same order: then each source gets a row with its reference beside every
    model's estimate. ``notes``: model label -> a caption note per source (e.g. its SI-SDRi).
    ``utterance_table``: per-utterance metrics, shown under the mean table. ``source_names``: headings of the
    reference rows (music stems: drums, bass, ...). ``latency_note``: a paragraph under the latency table.
    """
    out = Path(out_dir)
    wavs = [Path(mixture_wav), *map(Path, references)] + [Path(p) for paths in outputs.values() for p in paths]
    for p in wavs:
        if not p.is_file():
            raise FqssError(f"{p}: no such file (summary page)")
    if references and any(len(paths) != len(references) for paths in outputs.values()):
        raise FqssError(f"summary page: {len(references)} reference sources, but the models' outputs have "
                        f"{sorted({len(p) for p in outputs.values()})} sources")
    out.mkdir(parents=True, exist_ok=True)
    mix_card = _card(out, "mixture", Path(mixture_wav), "mixture")
    groups = _groups(["reference", *outputs] if references else list(outputs))

    def caption(label: str, j: int, path: Path) -> str:
        note = (notes or {}).get(label)
        return f"{label}: {path.stem}" + (f" ({note[j]})" if note else "")

    sections = []
    if references:
        for j, ref in enumerate(references):
            # references often share a file name (s1/x.wav, s2/x.wav): one folder per source
            cards = [_card(out, f"{groups['reference']}/s{j + 1}", Path(ref), f"reference {j + 1}: {Path(ref).stem}")]
            cards += [_card(out, groups[label], Path(paths[j]), caption(label, j, Path(paths[j])))
                      for label, paths in outputs.items()]
            name = f": {html.escape(source_names[j])}" if j < len(source_names) else ""
            sections.append(f'<h2>Source {j + 1}{name}: reference and estimates</h2>\n<div class="grid">\n'
                            f'{"".join(cards)}</div>')
    else:
        for label, paths in outputs.items():
            cards = [_card(out, groups[label], Path(p), caption(label, j, Path(p))) for j, p in enumerate(paths)]
            sections.append(f'<h2>{html.escape(label)}</h2>\n<div class="grid">\n{"".join(cards)}</div>')
    body = [
        f"<h1>{html.escape(title)}</h1>",
        '<h2>Mixture</h2>\n<div class="grid">\n' + mix_card + "</div>",
        *sections,
    ]
    if metrics_table:
        body.append("<h2>Separation quality</h2>\n" + html_table(metrics_table))
    if utterance_table:
        body.append("<h2>Per utterance</h2>\n" + html_table(utterance_table))
    if latency_table:
        body.append("<h2>Latency</h2>\n" + html_table(latency_table)
                    + (f"\n<p>{html.escape(latency_note)}</p>" if latency_note else ""))
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + '\n<footer><span id="media-status"></span> · generated by fqss-edge</footer>\n'
        f"<script>{STATUS_SCRIPT}</script>\n</body>\n</html>\n"
    )
    index = out / "index.html"
    with atomic_write(index) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return index


def html_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table whose columns are the union of the rows' keys, in first-seen order."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    lines = ["<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows]
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(lines) + "\n</tbody>\n</table>"


def _card(out: Path, group: str, wav: Path, caption: str) -> str:
    rel_audio = Path("audio") / group / wav.name
    (out / rel_audio).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(wav, out / rel_audio)
    rel_img = Path("img") / group / (wav.stem + ".png")
    waveform_spectrogram_png(wav, out / rel_img, caption)
    a, i = rel_audio.as_posix(), rel_img.as_posix()
    return (f'<figure>\n<figcaption>{html.escape(caption)}</figcaption>\n'
            f'<img src="{html.escape(i)}" alt="waveform and spectrogram of {html.escape(caption)}">\n'
            f'<audio controls preload="metadata"><source src="{html.escape(a)}" type="audio/wav">'
            f'<a href="{html.escape(a)}">{html.escape(wav.name)}</a></audio>\n</figure>\n')


def _groups(labels: Sequence[str]) -> dict[str, str]:
    """A distinct folder name (under audio/ and img/) per label; "mixture" is taken."""
    used, groups = {"mixture"}, {}
    for label in labels:
        group = _slug(label)
        while group in used:
            group += "_"
        used.add(group)
        groups[label] = group
    return groups


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "model"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:,.2f}"
    return str(v)
