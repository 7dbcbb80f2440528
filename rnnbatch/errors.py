"""Typed errors: the CLI turns each into one line and a documented exit code."""


class RnnbatchError(Exception):
    """Base of every error rnnbatch reports to a user instead of a traceback."""

    exit_code = 1


class InputError(RnnbatchError):
    """Bad user input (grid file, options, dataset): exit code 2, nothing written."""

    exit_code = 2


class DataError(InputError):
    """A dataset file that is missing, malformed, or not what it claims to be."""


class OutputError(RnnbatchError):
    """The output location cannot be written (permissions, full disk)."""

    exit_code = 2
