"""Turn the library's input errors into one `error: ...` line and a non-zero exit."""

from __future__ import annotations

import errno
import functools
import sys
from typing import Any, Callable, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
EXIT_FAILURE = 1


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print one line to stderr and exit."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def cli_errors(function: F) -> F:
    """Decorator for command functions: expected errors become one clean line, not a traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from vid2act_core.agent import NonFiniteLossError
        from vid2act_core.runtime.checkpoint import CheckpointError

        try:
            return function(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            print("interrupted: re-run the same command to resume", file=sys.stderr)
            raise typer.Exit(130) from None
        except NonFiniteLossError as error:
            fail(f"{error} (the last good checkpoint is kept)", EXIT_FAILURE)
        except CheckpointError as error:
            fail(str(error), EXIT_FAILURE)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                fail(f"no space left on device while writing {error.filename or 'a file'}; files already saved are intact", EXIT_FAILURE)
            if isinstance(error, FileNotFoundError):
                fail(f"{error.filename}: no such file")
            raise
        except ValueError as error:
            fail(str(error).splitlines()[0] if str(error) else type(error).__name__)

    return wrapper  # type: ignore[return-value]
