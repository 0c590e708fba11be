"""Errors a user can fix. Each carries a one-line message; the CLI prints it and exits with the
error's `exit_code`: 2 for bad input (data, flags, files), 1 for a study that failed while
running."""


class HpoError(Exception):
    """Base of every error caused by input the user can change (data, flags, files)."""

    exit_code = 2


class DataError(HpoError):
    """The data file or its contents cannot be used as given."""


class ConfigError(HpoError):
    """A flag, option or setting is invalid."""


class StudyFailed(HpoError):
    """A study stopped after --max-failures trials in a row failed (a bug, data the models cannot
    train on), or its worker processes crashed before it held its trials: the run ends with exit
    code 1 and the last error; the stored trials are kept."""

    exit_code = 1
