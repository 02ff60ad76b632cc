"""The ``fqss-edge`` command: thin typer commands that call library functions.

User errors (``FqssError``) print one line to stderr and exit with status 2, without a traceback; user warnings
(``FqssWarning``) print one ``warning:`` line and the command goes on. Ctrl-C
(SIGINT) exits with 130 and SIGTERM with 143, after the command's clean-up ran (temporary files removed).
"""

from __future__ import annotations

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


if __name__ == "__main__":
    sys.exit(main())
