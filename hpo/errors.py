"""Errors a user can fix. Each carries a one-line message; the CLI prints it and exits with 2."""


class HpoError(Exception):
    """Base of every error caused by input the user can change (data, flags, files)."""

    exit_code = 2


class DataError(HpoError):
    """The data file or its contents cannot be used as given."""


class ConfigError(HpoError):
    """A flag, option or setting is invalid."""
