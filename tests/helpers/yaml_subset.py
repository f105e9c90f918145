"""A strict reader for the block-YAML subset the deploy writer emits (no YAML library is a
dependency): mappings, sequences, double-quoted strings, integers, booleans and ``{}``.
Anything else (a tab, an odd indent, an unquoted string, a duplicate key) is an error, so a
test that parses compose.yaml with it checks the file's structure, not just its text."""

from __future__ import annotations

import json
import re
from typing import Any

KEY = re.compile(r"[A-Za-z0-9_.-]+")


class YamlError(ValueError):
    pass


def parse(text: str) -> Any:
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw:
            raise YamlError(f"line {number}: a tab")
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            indent = len(raw) - len(raw.lstrip(" "))
            if indent % 2:
                raise YamlError(f"line {number}: odd indent")
            lines.append((number, indent, stripped))
    value, rest = _block(lines, 0)
    if rest:
        raise YamlError(f"line {rest[0][0]}: unexpected indent")
    return value


def _block(lines: list[tuple[int, int, str]], indent: int) -> tuple[Any, list]:
    if not lines or lines[0][1] != indent:
        raise YamlError("an empty block")
    if lines[0][2].startswith("- "):
        return _sequence(lines, indent)
    return _mapping(lines, indent)


def _mapping(lines: list, indent: int) -> tuple[dict[str, Any], list]:
    found: dict[str, Any] = {}
    while lines and lines[0][1] == indent:
        number, _, text = lines[0]
        key, sep, rest = text.partition(":")
        if not sep or not KEY.fullmatch(key) or (rest and not rest.startswith(" ")):
            raise YamlError(f"line {number}: not a 'key: value' line: {text!r}")
        if key in found:
            raise YamlError(f"line {number}: duplicate key {key!r}")
        lines = lines[1:]
        if rest.strip():
            found[key] = _scalar(rest.strip(), number)
        else:
            found[key], lines = _block(lines, indent + 2)
    return found, lines


def _sequence(lines: list, indent: int) -> tuple[list[Any], list]:
    found: list[Any] = []
    while lines and lines[0][1] == indent and lines[0][2].startswith("- "):
        number, _, text = lines[0]
        item = text[2:]
        if ":" in item and not item.startswith('"'):  # a mapping that starts on the dash line
            rest = [(number, indent + 2, item), *lines[1:]]
            value, lines = _mapping(rest, indent + 2)
            found.append(value)
        else:
            found.append(_scalar(item, number))
            lines = lines[1:]
    return found, lines


def _scalar(text: str, number: int) -> Any:
    if text == "{}":
        return {}
    if text in ("true", "false"):
        return text == "true"
    if text.isdigit():
        return int(text)
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, str):
            return value
    raise YamlError(f"line {number}: not a scalar this writer emits: {text!r}")
