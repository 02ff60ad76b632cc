"""Offline separation of audio files of any length, rate and channel count, in constant memory.

Per file: read blocks -> resample to the model's rate (soxr, streaming) -> one ``StreamingSeparator`` per channel
(the app streaming API: chunked overlap-add with source-order alignment, each chunk brought to the level the
model was trained at and its outputs brought back) -> resample each source back to the
input rate -> append to one temp file per source -> rename all into place (``DIR/<mixname>_<source>.wav``,
same rate, channels and length as the input; ``.flac`` / ``.mp3`` with ``SeparateOptions.format``; other names and
subfolders, e.g. demucs' ``DIR/<name>/<mixname>/<source>.wav``, with ``filename`` and ``name``:
``fqss_edge.separate.naming``).

A stereo model (``audio_channels`` 2, e.g. the music models) runs one separator on both channels of a stereo file
(a mono file: its channel twice, the two output channels averaged back); files with more channels are refused.
``two_stems`` (demucs' ``--two-stems``): that stem and ``no_<stem>``, the sum of all the others.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fqss_edge.errors import FqssError
from fqss_edge.fileio import output_folder
from fqss_edge.runtimes.base import Backend
from fqss_edge.runtimes.streaming import StreamingSeparator
from fqss_edge.separate.naming import DEFAULT_FILENAME, check_filename, check_name, output_paths
from fqss_edge.separate.reader import AudioInfo, probe, read_blocks
from fqss_edge.separate.resample import StreamResampler
from fqss_edge.separate.writer import FORMATS, AtomicWavSet, output_subtype

Progress = Callable[[int], None]  # called with the number of input frames just processed


@dataclass(frozen=True)
class SeparateOptions:
    chunk_seconds: float = 4.0
    overlap_seconds: float = 0.5
    block_seconds: float = 1.0  # input read size
    subtype: str | None = None  # output sample format; None: like the input (16-bit PCM if a WAV cannot hold it)
    align_sources: bool = True
    normalize: bool = True  # each chunk at the training level (peak 0.9), outputs back at the input's level
    two_stems: str | None = None  # this source and no_<source> (the sum of the others)
    format: str = "wav"  # wav, flac or mp3
    filename: str = DEFAULT_FILENAME  # {track}, {trackext}, {stem}, {ext} (demucs' --filename)
    name: str | None = None  # a subfolder of the output folder (demucs: the model's name, -n)

    def __post_init__(self) -> None:
        check_filename(self.filename)
        check_name(self.name)
        if not self.block_seconds > 0:
            raise FqssError(f"block length must be > 0 seconds, not {self.block_seconds}")
        if self.format not in FORMATS:
            raise FqssError(f"output format {self.format!r}: choose one of {', '.join(FORMATS)}")
        held = FORMATS[self.format][1]
        if self.subtype is not None and self.subtype not in held:
            raise FqssError(f"output sample format {self.subtype!r}: {self.format} holds {', '.join(held)}")

    def output_names(self, source_names: Sequence[str]) -> list[str]:
        """The files written per mixture: the sources, or ``[stem, no_<stem>]`` with ``two_stems``."""
        if self.two_stems is None:
            return list(source_names)
        if self.two_stems not in source_names:
            raise FqssError(f"--two-stems {self.two_stems!r}: the model's sources are {', '.join(source_names)}")
        return [self.two_stems, f"no_{self.two_stems}"]


def separate_file(mixture: str | Path, backend: Backend, out_dir: str | Path,
                  options: SeparateOptions | None = None, progress: Progress | None = None) -> dict[str, Path]:
    """Separate one file; returns ``{source name: written wav}``. Nothing is written if it fails."""
    return separate_files([mixture], backend, out_dir, options, progress)[probe(mixture).path]


def separate_files(mixtures: Sequence[str | Path], backend: Backend, out_dir: str | Path,
                   options: SeparateOptions | None = None,
                   progress: Progress | None = None) -> dict[Path, dict[str, Path]]:
    """Separate several files (all headers are checked first); ``{mixture: {source: wav}}``.

    All outputs are committed together once every file is separated: a failure on the second file leaves no
    output of the first (nor the output folder, if this call created it)."""
    infos = [probe(m) for m in mixtures]
    opts = options or SeparateOptions()
    names = opts.output_names(backend.io_contract.source_names)
    planned = {info.path: _paths(info.path, out_dir, names, opts) for info in infos}
    _refuse_colliding_outputs(planned)
    _refuse_overwriting_inputs(planned)
    for info in infos:
        if backend.io_contract.audio_channels > 1 and info.channels > backend.io_contract.audio_channels:
            raise FqssError(f"{info.path}: {info.channels} channels; the model is stereo: it takes mono or stereo "
                            f"files")
    with output_folder(out_dir) as out, contextlib.ExitStack() as stack:
        sets = {info.path: _separate_into(info, backend, out, opts, progress, stack)
                for info in infos}
        for wavs in sets.values():
            wavs.finish()
        return {path: wavs.commit() for path, wavs in sets.items()}


def _separate_into(info: AudioInfo, backend: Backend, out_dir: Path, opts: SeparateOptions,
                   progress: Progress | None, stack: contextlib.ExitStack) -> AtomicWavSet:
    """Separate one file into temporary wavs (discarded when ``stack`` closes without a commit)."""
    contract = backend.io_contract
    # a chunk longer than the file gives one window, the whole file, at flush: the same output as a chunk of
    # the file's length, whose memory the estimate (StreamingSeparator) then judges
    chunk = opts.chunk_seconds
    if math.isfinite(chunk):
        chunk = min(chunk, max(info.seconds + 1.0, opts.overlap_seconds))
    n_seps = info.channels if contract.audio_channels == 1 else 1  # a stereo model: one for both channels
    try:
        seps = [StreamingSeparator(backend, chunk, opts.overlap_seconds, opts.align_sources,
                                   opts.normalize) for _ in range(n_seps)]
    except FqssError as e:  # e.g. a window over the memory limit: say which file (the chunk is clamped to it)
        raise FqssError(f"{info.path}: {e}") from None
    names = opts.output_names(seps[0].source_names)
    paths = _paths(info.path, out_dir, names, opts)
    stack.callback(_remove_empty_folders, _make_folders(paths.values(), out_dir))  # after the files' cleanup
    down = StreamResampler(info.sample_rate, contract.sample_rate, info.channels)
    ups = [StreamResampler(contract.sample_rate, info.sample_rate, info.channels) for _ in names]
    block = max(int(opts.block_seconds * info.sample_rate), 1)
    subtype = opts.subtype or output_subtype(info.subtype, opts.format)
    out = stack.enter_context(AtomicWavSet(paths, info.sample_rate, info.channels, info.frames, subtype, opts.format))
    stems = seps[0].source_names.index(opts.two_stems) if opts.two_stems else None
    for x in read_blocks(info, block):
        _write(out, names, ups, _two(_separate(seps, down.process(x)), stems), last=False)
        if progress:
            progress(x.shape[0])
    y = _separate(seps, down.finish())
    flushed = _flush(seps, info.channels)
    _write(out, names, ups, _two(np.concatenate([y, flushed], axis=1), stems), last=True)
    return out


def _paths(mixture: Path, out_dir: str | Path, names: Sequence[str], opts: SeparateOptions) -> dict[str, Path]:
    return output_paths(mixture, out_dir, names, opts.format, opts.filename, opts.name)


def _refuse_colliding_outputs(planned: dict[Path, dict[str, Path]]) -> None:
    """Two inputs (or two stems) may not be written to one file (``a/x.wav`` and ``b/x.wav`` both give
    ``x_<stem>.wav``; a ``--filename`` without ``{track}`` gives every input the same names)."""
    owner: dict[Path, Path] = {}
    for mixture, paths in planned.items():
        for out in paths.values():
            key = out.resolve()
            if key in owner:
                other = owner[key]
                raise FqssError(f"{mixture}: same name as {other}; their outputs would collide (separate them into "
                                f"different folders, or put {{track}} in --filename)" if other != mixture else
                                f"{mixture}: two stems would be written to {out} (put {{stem}} in --filename)")
            owner[key] = mixture


def _refuse_overwriting_inputs(planned: dict[Path, dict[str, Path]]) -> None:
    """Before anything is written: no planned output may be one of the inputs (``-o`` the input folder with
    ``x.wav`` and ``x_s1.wav`` both given would replace an input, then separate it as if it were original)."""
    resolved = {Path(p).resolve(): Path(p) for p in planned}
    for mixture, paths in planned.items():
        for out in paths.values():
            hit = resolved.get(out.resolve())
            if hit is not None:
                raise FqssError(f"{hit}: is an input and would be overwritten by the output of {mixture}; "
                                f"choose another -o folder")


def _make_folders(paths: Iterable[Path], out_dir: Path) -> list[Path]:
    """Create the outputs' folders below ``out_dir``; the ones created, deepest first."""
    created: list[Path] = []
    for p in paths:
        for d in reversed(p.parents):
            if d != out_dir and out_dir in d.parents and not d.is_dir():
                try:
                    d.mkdir()
                except OSError as e:  # e.g. a file of that name
                    _remove_empty_folders(created[::-1])
                    raise FqssError(f"{d}: cannot create the output folder ({e.strerror or e})") from None
                created.append(d)
    return created[::-1]


def _remove_empty_folders(folders: list[Path]) -> None:
    """Undo ``_make_folders`` where nothing was committed (a failure or Ctrl-C)."""
    for d in folders:
        with contextlib.suppress(OSError):
            d.rmdir()


def total_frames(mixtures: Sequence[str | Path]) -> int:
    return sum(probe(m).frames for m in mixtures)


def _separate(seps: list[StreamingSeparator], x: np.ndarray) -> np.ndarray:
    """[n, C] at the model rate -> [S, m, C] (every channel's separator emits the same number of samples; a
    stereo model's one separator takes both channels)."""
    if seps[0].channels == 1:
        return np.stack([s.push(x[:, c]) for c, s in enumerate(seps)], axis=-1)
    return _from_model_channels(seps[0], seps[0].push(_to_model_channels(seps[0], x)), x.shape[1])


def _flush(seps: list[StreamingSeparator], channels: int) -> np.ndarray:
    """The separators' remaining output [S, n, C]."""
    if seps[0].channels == 1:
        return np.stack([s.flush() for s in seps], axis=-1)
    return _from_model_channels(seps[0], seps[0].flush(), channels)


def _to_model_channels(sep: StreamingSeparator, x: np.ndarray) -> np.ndarray:
    """[n, C] -> [model channels, n] (a mono file: its channel on every model channel)."""
    return np.ascontiguousarray(np.broadcast_to(x.T, (sep.channels, x.shape[0])) if x.shape[1] == 1 else x.T)


def _from_model_channels(sep: StreamingSeparator, y: np.ndarray, channels: int) -> np.ndarray:
    """[S * model channels, m] (source-major) -> [S, m, C]; a mono file gets the model channels' mean."""
    y = y.reshape(sep.n_src, sep.channels, -1)
    if channels == 1:
        y = y.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(y.transpose(0, 2, 1))


def _two(y: np.ndarray, stem: int | None) -> np.ndarray:
    """[S, m, C] -> [stem, sum of the others] when ``stem`` is given (``--two-stems``)."""
    if stem is None:
        return y
    return np.stack([y[stem], y.sum(axis=0) - y[stem]])


def _write(out: AtomicWavSet, names: Sequence[str], ups: list[StreamResampler], y: np.ndarray, last: bool) -> None:
    for k, name in enumerate(names):
        out.write(name, ups[k].process(y[k]))
        if last:
            out.write(name, ups[k].finish())


__all__ = ["AudioInfo", "SeparateOptions", "separate_file", "separate_files", "total_frames"]
