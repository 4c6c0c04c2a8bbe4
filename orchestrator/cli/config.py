"""TOML config files: a whole benchmark matrix in one reviewed file, e.g. ``configs/nightly.toml``.

A config file is a flat TOML table whose keys are the command line's long flags without the
leading dashes, spelled with dashes or underscores (``batch-size`` or ``batch_size``)::

    frameworks = ["pytorch", "onnxruntime"]   # or "pytorch,onnxruntime", as on the command line
    batch-size = [1, 8, 64]                   # or "1,8,64"
    min-time = 1.0
    strict = true                             # a switch: true gives the flag, false leaves it off

    [slurm]                                   # a table: its keys are the flags --slurm-<key>
    partition = "cpu"
    constraint = "icelake,genoa,graviton3"

The keys and their validation are not kept in a table here: they are read from the parser's own
actions, so every flag added to :func:`orchestrator.cli.run.build_parser` is configurable at once. A
value is turned back into its command-line text (an array is joined with ``,``) and handed to the
flag's own ``type`` converter and ``choices``, so a config value is accepted, converted and rejected
exactly as the same flag would be. Relative paths (``output``, ``inputs``, ...) are relative to the
working directory, as on the command line, not to the config file.

Precedence -- command line over config file over built-in defaults. The caller does::

    parser = build_parser()
    parser.set_defaults(**load_config(path, parser))
    args = parser.parse_args(argv)

The config's values become the parser's defaults, so a flag given on the command line still wins
(``--config nightly.toml --repeats 1`` runs one repeat), and a flag left out keeps the config's
value. A switch set to ``true`` in the file cannot be turned off from the command line unless the
flag has a negative form (``argparse.BooleanOptionalAction``). (argparse re-runs a flag's
``type`` on a default that is a ``str``, so a converter returning a string must accept its own
output; the ones in ``cli.py`` return tuples, numbers and Paths, or have no ``type``.)

Every problem -- a missing or unreadable file, invalid TOML, an unknown key, a bad value -- is a
:class:`ConfigError` whose message is one line naming the file (and the key, or the TOML line).
"""

from __future__ import annotations

import argparse
import difflib
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Keys a config file may never set, even when the parser has them.
_FORBIDDEN = frozenset({"config", "help"})

# Checks on top of the parser's own, for flags whose converter may be laxer than the contract.
_EXTRA_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "fail_on_regression": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < math.inf,
        "a percentage of zero or more",
    ),
}


class ConfigError(ValueError):
    """A config file that cannot be used; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class _Key:
    """One configurable flag: its canonical spelling (``batch-size``) and its parser action."""

    name: str
    action: argparse.Action


def load_config(path: Path, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Read the TOML config at ``path`` into ``{dest: value}`` for ``parser.set_defaults``.

    Each value has the type the parser would produce for the flag (tuples, ints, floats,
    Paths, bools, ...). Raises :class:`ConfigError` on any problem.
    """
    return load_config_keys(path, parser)[0]


def load_config_keys(path: Path, parser: argparse.ArgumentParser) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`load_config`, and the key each value was set by (``{dest: key as written}``), so
    that a problem found later names the file and the key, not a flag the user never typed."""
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(_line(f"{path}: cannot read the config file: {exc.strerror or exc}")) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_line(f"{path}: invalid TOML: {exc}")) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(_line(f"{path}: invalid TOML: not UTF-8 text ({exc.reason})")) from exc

    keys = _configurable_keys(parser)
    values: dict[str, Any] = {}
    spelled: dict[str, str] = {}  # dest -> the key that set it, to catch `a-b` and `a_b` together
    for lookup, raw_key, raw_value in _flattened(document, keys):
        key = keys.get(lookup)
        if key is None:
            unknown = _unknown(lookup, keys).replace(repr(lookup), repr(raw_key), 1)
            raise ConfigError(_line(f"{path}: {unknown}"))
        dest = key.action.dest
        if dest in spelled:
            raise ConfigError(_line(f"{path}: key {raw_key!r}: already set as {spelled[dest]!r}"))
        try:
            values[dest] = _convert(key.action, raw_value, parser)
        except ValueError as exc:
            raise ConfigError(_line(f"{path}: key {raw_key!r}: {exc}")) from exc
        spelled[dest] = raw_key
    return values, spelled


def _flattened(document: dict[str, Any], keys: dict[str, _Key]) -> list[tuple[str, str, Any]]:
    """(key as a flag, key as written, value) of each entry; a table that is not a flag's value
    holds flags: ``[slurm] time = 30`` is ``slurm-time = 30``, written ``slurm.time``."""
    entries: list[tuple[str, str, Any]] = []
    for raw_key, raw_value in document.items():
        if isinstance(raw_value, dict) and raw_key not in keys:
            entries += [(f"{raw_key}-{key}", f"{raw_key}.{key}", value) for key, value in raw_value.items()]
        else:
            entries.append((raw_key, raw_key, raw_value))
    return entries


def _configurable_keys(parser: argparse.ArgumentParser) -> dict[str, _Key]:
    """Every accepted spelling -> its flag, from the parser's long options."""
    keys: dict[str, _Key] = {}
    for action in parser._actions:
        if action.dest in _FORBIDDEN or not _supported(action):
            continue
        for option in action.option_strings:
            if not option.startswith("--"):
                continue
            name = option[2:]
            if isinstance(action, argparse.BooleanOptionalAction) and name.startswith("no-"):
                continue  # `x = false` is the config's spelling of --no-x
            if name.replace("_", "-") in _FORBIDDEN:
                continue
            key = _Key(name.replace("_", "-"), action)
            keys.setdefault(name.replace("_", "-"), key)
            keys.setdefault(name.replace("-", "_"), key)
    return keys


def _supported(action: argparse.Action) -> bool:
    """Flags that store a value, repeatable flags (an array of their values), and switches;
    not help, version or count actions."""
    if isinstance(action, argparse._StoreConstAction | argparse.BooleanOptionalAction):
        return True
    return type(action) in (argparse._StoreAction, argparse._AppendAction, argparse._ExtendAction)


def _unknown(raw_key: str, keys: dict[str, _Key]) -> str:
    if raw_key.replace("_", "-") in _FORBIDDEN:
        return f"key {raw_key!r} is not allowed in a config file"
    names = sorted({key.name for key in keys.values()})
    close = difflib.get_close_matches(raw_key.replace("_", "-"), names, n=3, cutoff=0.6)
    if close:
        return f"unknown key {raw_key!r} (did you mean {' or '.join(repr(c) for c in close)}?)"
    return f"unknown key {raw_key!r} (known keys: {', '.join(names)})"


def _convert(action: argparse.Action, value: Any, parser: argparse.ArgumentParser) -> Any:
    """A TOML value -> what argparse would store for the flag; ValueError with the reason."""
    if isinstance(action, argparse.BooleanOptionalAction):
        return _boolean(value)
    if isinstance(action, argparse._StoreConstAction):  # store_true, store_false, store_const
        return action.const if _boolean(value) else action.default
    if isinstance(action, argparse._ExtendAction):  # each item's values, one list (--report)
        items = value if isinstance(value, list) else [value]
        return [part for item in items for part in _one(action, _text(item, nested=True), item, parser)]
    if isinstance(action, argparse._AppendAction):  # a repeatable flag: an array of its values
        items = value if isinstance(value, list) else [value]
        return [_one(action, _text(item, nested=True), item, parser) for item in items]
    if action.nargs not in (None, "?"):  # a multi-value flag (nargs '*', '+' or N): one item each
        items = value if isinstance(value, list) else [value]
        return [_one(action, _text(item, nested=True), item, parser) for item in items]
    result = _one(action, _text(value, nested=False), value, parser)
    check = _EXTRA_CHECKS.get(action.dest)
    if check is not None and not check[0](result):
        raise ValueError(f"expected {check[1]}, got {_show(value)}")
    return result


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_show(value)}")
    return value


def _text(value: Any, nested: bool) -> str:
    """The command-line text of a TOML value: scalars as typed, an array joined with commas."""
    if isinstance(value, bool):
        raise ValueError(f"expected a value for the flag, not a switch, got {_show(value)}")
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and not nested:
        return ",".join(_text(item, nested=True) for item in value)
    raise ValueError(f"expected a string, a number or an array of them, got {_show(value)}")


def _one(action: argparse.Action, text: str, value: Any, parser: argparse.ArgumentParser) -> Any:
    """Run the flag's own converter and choices on ``text``, as argparse does."""
    convert = parser._registry_get("type", action.type, action.type)
    if convert is None:
        convert = str
    if not callable(convert):
        raise ValueError(f"the flag's type {convert!r} is not callable")
    try:
        result = convert(text)
    except argparse.ArgumentTypeError as exc:
        message = str(exc)
        if not isinstance(value, str):  # "got '0'" -> "got 0", as written in the file
            message = message.replace(repr(text), _show(value))
        raise ValueError(message) from exc
    except (TypeError, ValueError) as exc:
        name = getattr(convert, "__name__", repr(convert))
        raise ValueError(f"invalid {name} value: {_show(value)}") from exc
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(repr(choice) for choice in action.choices)
        raise ValueError(f"invalid choice: {_show(value)} (choose from {choices})")
    return result


def _show(value: Any) -> str:
    """A value as it is written in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


def _line(message: str) -> str:
    """Collapse any line breaks, so the error is one line."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())
