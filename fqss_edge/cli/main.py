"""The ``fqss-edge`` command: thin typer commands that call library functions.

User errors (``FqssError``) print one line to stderr and exit with status 2, without a traceback; user warnings
(``FqssWarning``) print one ``warning:`` line and the command goes on. On Ctrl-C (SIGINT) or SIGTERM the
command's clean-up runs (temporary files removed), one line is printed, ``main`` returns 130 / 143, and the program
(``cli``) then ends by that signal, so that a calling shell sees 130 / 143 and a shell loop stops on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings

import typer

from fqss_edge import __version__
from fqss_edge.cli.commands import COMMAND_MODULES
from fqss_edge.errors import FqssError, FqssWarning

app = typer.Typer(
    name="fqss-edge",
    help="Fully quantized audio source separation: QAT -> int8 ONNX/TFLite -> parity -> bench -> app.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fqss-edge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass


for _module in COMMAND_MODULES:
    _module.register(app)


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that ``finally`` blocks and atomic writes clean up."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _run(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None) -> int:
    with warnings.catch_warnings():
        others = warnings.showwarning

        def show(message, category, *args, **kwargs) -> None:
            if issubclass(category, FqssWarning):
                typer.secho(f"warning: {message}", fg="yellow", err=True)
            else:
                others(message, category, *args, **kwargs)

        warnings.showwarning = show
        return _run_app(argv)


def _run_app(argv: list[str] | None) -> int:
    try:
        rv = app(args=argv, standalone_mode=False)
    except FqssError as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        return 2
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        return 130
    except Terminated:
        typer.secho("terminated", err=True)
        return 143
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 1
    except typer.TyperException as e:  # usage errors (typer vendors click; its exceptions derive from this)
        show = getattr(e, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(e, "exit_code", 2))
    if rv == 130:  # typer turns Ctrl-C into Exit(130), which it returns instead of raising in this mode
        typer.secho("interrupted", err=True)
        return 130
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


SIGNAL_EXITS = {130: signal.SIGINT, 143: signal.SIGTERM}


def cli() -> None:
    """The program (console script ``fqss-edge`` and ``python -m fqss_edge.cli.main``): ``main``, and after an
    interrupt, once the clean-up ran, the signal again at its default action. A POSIX program that handles SIGINT
    ends this way: a calling shell tells it from a normal exit, stops its loop, and reports 130 / 143. It also
    makes ``python -m`` deterministic: CPython re-raises SIGINT at exit on its own whenever the KeyboardInterrupt
    went through ``exec``'d code (a dataclass being built during an import), and only then."""
    code = main()
    sig = SIGNAL_EXITS.get(code)
    if sig is not None and os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    sys.exit(code)


if __name__ == "__main__":
    cli()
