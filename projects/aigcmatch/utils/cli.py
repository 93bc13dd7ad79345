"""Clean failure for command-line tools.

A user who mistypes a path should read one line that says what is wrong, not a
wall of traceback. Errors that describe bad input (missing files, bad config
values, refused checkpoints) are printed as ``error: ...`` and the tool exits
with status 2; anything else is a bug and keeps its traceback. Set
``AIGCMATCH_DEBUG=1`` to always see the traceback.
"""
import os
import pickle
import sys
import warnings
from typing import Callable

from ..compat import MissingCompiledOpError


class UserError(Exception):
    """Bad input from the user: the message says what and where."""


# Exceptions whose message is the whole story for a user of a tool.
USER_FACING = (UserError, FileNotFoundError, FileExistsError, NotADirectoryError,
               pickle.UnpicklingError, MissingCompiledOpError, ValueError,
               KeyError)


def print_data_warnings_as_lines() -> None:
    """Print warnings about the user's data (categories with a true
    ``one_line`` attribute, e.g. ``IntensityOutlierWarning``) as one
    ``warning: ...`` line on stderr; other warnings keep Python's format."""
    if getattr(warnings.showwarning, 'one_line_formatter', False):
        return
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if getattr(category, 'one_line', False):
            print(f'warning: {message}', file=file or sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    show.one_line_formatter = True
    warnings.showwarning = show


def run_tool(main: Callable[[], None]) -> None:
    """Run ``main()`` and turn user-facing errors into one line."""
    print_data_warnings_as_lines()
    try:
        main()
    except USER_FACING as err:
        if os.environ.get('AIGCMATCH_DEBUG', '0') == '1':
            raise
        message = str(err)
        if isinstance(err, KeyError) and err.args:
            message = str(err.args[0])
        print(f'error: {message}\n(set AIGCMATCH_DEBUG=1 to see the '
              'traceback)', file=sys.stderr)
        sys.exit(2)
