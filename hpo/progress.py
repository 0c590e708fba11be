"""The one progress callback of the library: a function that takes one line of text.

Every long-running function takes `progress: Progress | None = print` (one line per epoch, run or
trial); None keeps it quiet. Inside, `progress = or_silent(progress)` makes it always callable.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def silent(line: str) -> None:
    """A progress callback that shows nothing."""


def or_silent(progress: Progress | None) -> Progress:
    return silent if progress is None else progress
