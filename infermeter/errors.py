"""User-facing errors: one clear line, never a traceback, and an exit code scripts can trust."""

from __future__ import annotations

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and found a problem (validation errors, failed check)
EXIT_USAGE = 2  # bad input: arguments, configuration, spec files
EXIT_UNAVAILABLE = 3  # a dependency (store, owner process, target) could not be reached


class InfermeterError(Exception):
    """An error whose message is meant for the user as it is."""

    exit_code = EXIT_FAILURE


class ConfigError(InfermeterError):
    """Configuration or input that cannot be used; the message names the file, line or field."""

    exit_code = EXIT_USAGE


class StoreUnavailable(InfermeterError):
    """The store cannot be reached or opened."""

    exit_code = EXIT_UNAVAILABLE


class QueryError(InfermeterError):
    """The store rejected a statement (syntax, unknown table, type mismatch)."""

    exit_code = EXIT_FAILURE
