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
from typing import Callable

from ..compat import MissingCompiledOpError


class UserError(Exception):
    """Bad input from the user: the message says what and where."""


# Exceptions whose message is the whole story for a user of a tool.
USER_FACING = (UserError, FileNotFoundError, FileExistsError, NotADirectoryError,
               pickle.UnpicklingError, MissingCompiledOpError, ValueError,
               KeyError)


def run_tool(main: Callable[[], None]) -> None:
    """Run ``main()`` and turn user-facing errors into one line."""
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
