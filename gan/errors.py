"""The error type for problems a user can fix, reported as one paragraph, not a traceback.

Library code raises `UserError` for anything the user can fix (a config value, a path, a
missing dataset, an incompatible checkpoint); entry points catch it in `gan.cli`. Internal
bugs are not caught, so they keep their traceback.
"""


class UserError(Exception):
    """A problem with the user's input, config or environment that stops the run."""
