"""Channel selection: turn `--channels temperature,velocity` or `0,2` into positions in a file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hpo.errors import ConfigError

ChannelSpec = str | Sequence[str | int] | None


def parse_channels(text: str | None) -> list[str | int] | None:
    """Split a `--channels` value ("temperature,velocity" or "0,2") into names and indices."""
    if text is None:
        return None
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"--channels needs at least one name or index, but got {text!r}")
    return [int(item) if item.lstrip("-").isdigit() else item for item in items]


def select_channels(
    spec: ChannelSpec,
    available: Sequence[str],
    default: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Resolve a selection against the channels a file offers.

    Args:
        spec: None (the layout's default), a comma-separated string, or a list of names/indices;
            an index counts in `available`.
        available: every channel name the file can provide, in order.
        default: the channels used when `spec` is None.
        aliases: other accepted names (e.g. temperature -> buoyancy).

    Returns:
        The selected channel names (canonical, not aliases), in the requested order.

    Raises:
        ConfigError: unknown name, index out of range, duplicate, or empty selection.
    """
    if spec is None:
        return tuple(default)
    items = parse_channels(spec) if isinstance(spec, str) else list(spec)
    if not items:
        raise ConfigError("--channels needs at least one name or index, but got an empty list")
    aliases = aliases or {}
    listing = ", ".join(f"{i}={name}" for i, name in enumerate(available))
    chosen: list[str] = []
    for item in items:
        if isinstance(item, int):
            if not 0 <= item < len(available):
                raise ConfigError(f"channel index {item} is out of range; available: {listing}")
            name = available[item]
        else:
            name = aliases.get(item, item)
            if name not in available:
                raise ConfigError(f"unknown channel {item!r}; available: {listing}")
        if name in chosen:
            raise ConfigError(f"channel {name!r} is selected twice; list each channel once")
        chosen.append(name)
    return tuple(chosen)
