"""fqss_edge.report.summary_page: a self-contained page whose every <audio> loads its wav and every <img> its PNG in
headless Chromium (served from a local http.server), plus the tables and relative links."""

from __future__ import annotations

import functools
import html.parser
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fqss_edge.errors import FqssError
from fqss_edge.report import build_summary_page, html_table

SR = 8000


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    pytest.skip("headless Chromium not found: install Debian's `chromium` package (apt-get install chromium)")


class Elements(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("audio", "img", "source", "a", "td", "th"):
            self.found.append((tag, dict(attrs)))


def parse(text: str) -> list[tuple[str, dict]]:
    p = Elements()
    p.feed(text)
    return p.found


@pytest.fixture
def page(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(SR * 2) / SR
    s1, s2 = 0.3 * np.sin(2 * np.pi * 300 * t), 0.1 * rng.standard_normal(t.size)
    sf.write(tmp_path / "mix.wav", s1 + s2, SR)
    outputs = {}
    for label in ("float", "int8 tflite"):
        d = tmp_path / label.replace(" ", "_")
        d.mkdir()
        sf.write(d / "mix_s1.wav", s1, SR)
        sf.write(d / "mix_s2.wav", np.stack([s2, s2], 1), 44_100)  # stereo, another rate: any wav plays
        outputs[label] = [d / "mix_s1.wav", d / "mix_s2.wav"]
    metrics = [{"model": "float", "SI-SDRi (dB)": 14.2, "params": 5_100_000},
               {"model": "int8 tflite", "SI-SDRi (dB)": 13.9, "size (MB)": 1.3}]
    latency = [{"runtime": "litert-xnnpack", "threads": 1, "ms per 4 s": 61.25, "RTF": 0.0153}]
    return build_summary_page(tmp_path / "site", tmp_path / "mix.wav", outputs, metrics, latency,
                              title="Demo <2 speakers>")


@pytest.fixture
def paired_page(tmp_path, page) -> Path:
    """The same outputs beside their reference sources, with a note per estimate and a per-utterance table."""
    outputs = {label: sorted((tmp_path / label.replace(" ", "_")).glob("*.wav")) for label in ("float", "int8 tflite")}
    refs = []
    for j, src in enumerate(outputs["float"]):  # s1/ref_s.wav, s2/ref_s.wav: one name, as in a test set
        refs.append(tmp_path / f"s{j + 1}" / "ref_s.wav")
        refs[-1].parent.mkdir()
        refs[-1].write_bytes(src.read_bytes())
    notes = {"float": ["SI-SDRi 9.9 dB", "SI-SDRi 8.8 dB"]}
    utts = [{"utterance": "u0", "float SI-SDRi (dB)": 9.35, "int8 SI-SDRi (dB)": 9.1}]
    return build_summary_page(tmp_path / "paired", tmp_path / "mix.wav", outputs, references=refs, notes=notes,
                              utterance_table=utts)


def test_page_is_self_contained(page):
    text = page.read_text()
    els = parse(text)
    sources = [a["src"] for tag, a in els if tag == "source"]
    images = [a["src"] for tag, a in els if tag == "img"]
    assert len(sources) == len(images) == 5 and sum(tag == "audio" for tag, _ in els) == 5
    for rel in sources + images:
        assert not rel.startswith(("/", "http", "file:")) and (page.parent / rel).is_file(), rel
    assert (page.parent / sources[0]).read_bytes() == (page.parent.parent / "mix.wav").read_bytes()
    assert "Demo &lt;2 speakers&gt;" in text and "<2 speakers>" not in text
    assert "SI-SDRi (dB)" in text and "13.90" in text and "5100000" in text and "litert-xnnpack" in text
    assert text.count("<th>") == 4 + 4  # metrics: model, SI-SDRi, params, size; latency: 4 columns


def test_references_sit_beside_the_estimates(paired_page):
    text = paired_page.read_text()
    els = parse(text)
    assert sum(tag == "audio" for tag, _ in els) == 1 + 2 * 3  # the mixture; per source: reference, 2 models
    rows = text.split("<h2>Source ")[1:]
    assert len(rows) == 2 and all(f"reference {j + 1}: ref_s" in r and "float: mix_s" in r and
                                  "int8 tflite: mix_s" in r for j, r in enumerate(rows))
    assert "(SI-SDRi 9.9 dB)" in rows[0] and "(SI-SDRi 8.8 dB)" in rows[1]
    assert "<h2>Per utterance</h2>" in text and "9.35" in text
    srcs = [a["src"] for tag, a in els if tag == "source"]
    refs = [paired_page.parent / s for s in srcs if s.startswith("audio/reference/")]
    assert len(refs) == 2 and refs[0].read_bytes() != refs[1].read_bytes()  # both kept, not one overwritten


def test_latency_note_sits_under_the_latency_table(tmp_path, page):
    wav = page.parent.parent / "mix.wav"
    latency = [{"model": "int8", "mean (ms)": 60.0}]
    text = build_summary_page(tmp_path / "n", wav, {"m": [wav]}, latency_table=latency,
                              latency_note="int8 is 1.80x <float32>'s time").read_text()
    assert text.index("<h2>Latency</h2>") < text.index("<p>int8 is 1.80x &lt;float32&gt;&#x27;s time</p>")
    assert "<p>" not in page.read_text().split("<h2>Latency</h2>")[1]  # no note, no paragraph


def test_references_must_match_the_sources(tmp_path, page):
    wav = page.parent.parent / "mix.wav"
    with pytest.raises(FqssError, match="1 reference sources, but the models' outputs have \\[2\\] sources"):
        build_summary_page(tmp_path / "x", wav, {"m": [wav, wav]}, references=[wav])
    assert not (tmp_path / "x").exists()


def test_html_table_columns_and_formatting():
    t = html_table([{"a": 1.0, "b": "x"}, {"c": 0.0012, "a": None}])
    assert t.index("<th>a</th>") < t.index("<th>b</th>") < t.index("<th>c</th>")
    assert "<td>1.00</td>" in t and "<td>0.0012</td>" in t and "<td></td>" in t


def test_missing_wav_is_an_error(tmp_path):
    with pytest.raises(FqssError, match="nope.wav"):
        build_summary_page(tmp_path / "site", tmp_path / "nope.wav", {})


def served(directory: Path):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def rendered_dom(url: str, profile: Path) -> str:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--mute-audio", f"--user-data-dir={profile}",
           "--virtual-time-budget=5000", "--dump-dom", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def served_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` served from its folder, after headless Chromium ran its scripts."""
    server = served(page.parent)
    try:
        return rendered_dom(f"http://127.0.0.1:{server.server_port}/index.html", profile)
    finally:
        server.shutdown()


def media_status(dom: str) -> list[tuple[str, dict]]:
    return [(tag, a) for tag, a in parse(dom) if tag in ("audio", "img")]


@pytest.mark.parametrize("fixture, n_media", [("page", 10), ("paired_page", 14)])
def test_every_audio_and_image_loads_in_chromium(fixture, n_media, request, tmp_path):
    page = request.getfixturevalue(fixture)
    dom = served_dom(page, tmp_path / "profile")
    media = media_status(dom)
    assert len(media) == n_media
    for tag, a in media:
        name = a.get("alt") or tag
        assert a.get("data-status") == "ok", f"{tag} {name}: {a.get('data-status')}"
        if tag == "audio":
            assert int(a["data-ready-state"]) >= 1, f"audio readyState {a['data-ready-state']}"
        else:
            assert int(a["data-natural-width"]) > 0, f"{name}: naturalWidth 0"
    assert f"{n_media} of {n_media} media loaded" in dom


def test_broken_media_are_detected(page, tmp_path):
    """The check itself works: a deleted wav and a deleted PNG are reported as errors."""
    (page.parent / "audio" / "mixture" / "mix.wav").unlink()
    next((page.parent / "img" / "float").glob("*.png")).unlink()
    dom = served_dom(page, tmp_path / "profile")
    statuses = [a.get("data-status") for _, a in media_status(dom)]
    assert statuses.count("error") == 2 and statuses.count("ok") == 8


MUSIC = Path(__file__).parents[1] / "assets" / "music" / "test" / "rendered test 00"
STEMS = ("drums", "bass", "other", "vocals")


@pytest.fixture
def music_page(tmp_path) -> Path:
    """The music summary page (benchmarks/music_summary.py) on the shipped fixture track, cut to its first 0.5 s:
    44.1 kHz stereo FLAC stems, four named sources, a model's estimates (here: the stems at a lower gain), the
    museval table."""
    n = 22_050
    for name in ("mixture", *STEMS):
        x, sr = sf.read(MUSIC / f"{name}.flac", always_2d=True)
        sf.write(tmp_path / f"{name}.flac", x[:n], sr, subtype="PCM_16")
        if name != "mixture":
            sf.write(tmp_path / f"{name}_est.wav", 0.7 * x[:n], sr, subtype="PCM_16")
    rows = [{"method": m, "stem": s, "SDR": 1.5, "SIR": 4.25, "ISR": 6.0, "SAR": 2.125}
            for m in ("float", "ptq", "vanilla", "fqss") for s in STEMS]
    return build_summary_page(tmp_path / "site", tmp_path / "mixture.flac",
                              {"FQSS int8 (LiteRT XNNPACK)": [tmp_path / f"{s}_est.wav" for s in STEMS]},
                              metrics_table=rows, references=[tmp_path / f"{s}.flac" for s in STEMS],
                              source_names=STEMS, title="fqss-edge: music stems (museval)")


def test_music_page_names_the_stems_and_loads_in_chromium(music_page, tmp_path):
    text = music_page.read_text()
    for j, s in enumerate(STEMS):
        assert f"Source {j + 1}: {s}" in text
    assert text.count("<td>vanilla</td>") == 4 and "<th>SAR</th>" in text
    dom = served_dom(music_page, tmp_path / "profile")
    media = media_status(dom)
    assert len(media) == 2 * (1 + 4 + 4)  # mixture, references, the model's stems: a player and a figure each
    assert all(a.get("data-status") == "ok" for _, a in media), [a for _, a in media if a.get("data-status") != "ok"]
    assert f"{len(media)} of {len(media)} media loaded" in dom
