"""Errors a user can cause, reported as one clear paragraph instead of a traceback.

Library code raises `UserError` for anything the user can fix (a config value, a path, a
missing dataset, an incompatible checkpoint); entry points wrap their `main` in
`exit_on_user_error`. Internal bugs are not caught, so they keep their traceback.
"""

import functools
import sys
import textwrap


class UserError(Exception):
    """A problem with the user's input, config or environment that stops the run."""


def exit_on_user_error(main):
    """Decorates an absl `main` so a `UserError` prints its paragraph and exits with status 1."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as error:
            paragraph = textwrap.fill(" ".join(str(error).split()), width=100)
            print(f"\nerror: {paragraph}\n", file=sys.stderr, flush=True)
            sys.exit(1)

    return wrapper
