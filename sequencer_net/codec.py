"""Canonical, strict msgpack encoding for the project's frozen dataclasses.

A registered dataclass encodes as ``[tag, field1, field2, ...]`` in declaration order, so the same
object always yields the same bytes (no maps, no floats). Decoding is driven by the type hints:
every field is checked against its declared type, input that is not the canonical encoding
is refused, and any malformed input raises :class:`DecodeError` and nothing else. Supported
field types: ``int``, ``bool``, ``str``, ``bytes``, ``IntEnum`` subclasses, ``X | None``,
``tuple[X, ...]`` (optionally ``Annotated[tuple[X, ...], MaxLen(n)]``: the length is checked
before any item is decoded), registered dataclasses and unions of registered dataclasses.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import msgpack

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_COLLECTION = 200_000
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1

T = TypeVar("T")
Decoder = Callable[[Any], Any]


class DecodeError(ValueError):
    """Raised for any input that is not a well-formed encoding of the expected type."""


@dataclasses.dataclass(frozen=True)
class MaxLen:
    """``Annotated`` marker for a tuple field: at most ``limit`` items. Refused before the
    items are decoded, so a peer cannot buy decoding work with a collection no check admits."""

    limit: int


_by_tag: dict[int, type] = {}
_tag_of: dict[type, int] = {}
_layouts: dict[type, tuple[int, tuple[str, ...]]] = {}  # tag and field names, in wire order
_decoders: dict[Any, Decoder] = {}
_PLAIN = frozenset((int, bool, str, bytes, type(None)))  # types that are their own wire form


def register(tag: int) -> Callable[[type[T]], type[T]]:
    """Class decorator: give a frozen dataclass a wire tag (unique, never reused)."""

    def wrap(cls: type[T]) -> type[T]:
        if tag in _by_tag:
            raise RuntimeError(f"wire tag {tag} already used by {_by_tag[tag].__name__}")
        if not (dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen):  # type: ignore[attr-defined]
            raise TypeError(f"{cls.__name__} must be a frozen dataclass")
        _by_tag[tag] = cls
        _tag_of[cls] = tag
        _layouts[cls] = (tag, tuple(f.name for f in dataclasses.fields(cls)))
        return cls

    return wrap


def to_wire(obj: Any) -> Any:
    """The plain msgpack-able structure for ``obj`` (dataclasses become tagged lists)."""
    cls = type(obj)
    layout = _layouts.get(cls)
    if layout is not None:
        tag, names = layout
        return [tag, *[to_wire(getattr(obj, name)) for name in names]]
    if cls is tuple or cls is list:
        if set(map(type, obj)) <= _PLAIN:  # a chunk's transactions: no per-item call
            return list(obj)
        return [to_wire(x) for x in obj]
    if isinstance(obj, enum.IntEnum):
        return int(obj)
    if obj is None or cls in (int, bool, str, bytes):
        return obj
    raise TypeError(f"cannot encode {cls.__name__} canonically")


def encode(obj: Any) -> bytes:
    """Canonical bytes for ``obj``."""
    return msgpack.packb(to_wire(obj), use_bin_type=True)


def encode_plain(values: list[int | bytes | None]) -> bytes:
    """:func:`encode` of a list of ints, bytes and None (what signatures cover), without the
    walk over types: the same canonical bytes, three times faster on the hot path."""
    return msgpack.packb(values, use_bin_type=True)


def decode(data: bytes, expected: Any) -> Any:
    """Decode ``data`` as ``expected`` (a registered class, a union of them, or a field type)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("input is not bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        raw = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_bin_len=MAX_MESSAGE_BYTES,
            max_str_len=MAX_MESSAGE_BYTES,
            max_array_len=MAX_COLLECTION,
            max_map_len=0,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises a zoo of types for bad input
        raise DecodeError(f"not valid msgpack: {exc}") from None
    value = from_wire(raw, expected)
    # One object, one encoding: ids are digests of encoded bytes, so a non-minimal encoding of
    # the same object (a wider int or length header) would be a second id for it.
    if msgpack.packb(raw, use_bin_type=True) != data:
        raise DecodeError("not the canonical encoding")
    return value


def from_wire(raw: Any, expected: Any) -> Any:
    """Check and convert an already-unpacked structure into ``expected``."""
    try:
        return _decoder_for(expected)(raw)
    except DecodeError:
        raise
    except (ValueError, TypeError) as exc:  # raised by a dataclass's own validation
        raise DecodeError(str(exc)) from None


def _decoder_for(tp: Any) -> Decoder:
    decoder = _decoders.get(tp)
    if decoder is None:
        decoder = _decoders[tp] = _build_decoder(tp)
    return decoder


def _build_decoder(tp: Any) -> Decoder:
    if tp is int:
        return _decode_int
    if tp is bool:
        return _exact(bool)
    if tp is str:
        return _exact(str)
    if tp is bytes:
        return _exact(bytes)
    if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
        return _enum_decoder(tp)
    if tp in _tag_of:
        return _union_decoder((tp,))
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        bounds = [m.limit for m in tp.__metadata__ if isinstance(m, MaxLen)]
        inner = _decoder_for(args[0])
        return _bounded(inner, min(bounds)) if bounds else inner
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _tuple_decoder(args[0])
    if origin in (typing.Union, types.UnionType):
        members = tuple(a for a in args if a is not type(None))
        if all(m in _tag_of for m in members):
            inner = _union_decoder(members)
        elif len(members) == 1:
            inner = _decoder_for(members[0])
        else:
            raise TypeError(f"unsupported union {tp!r}")
        return _optional(inner) if type(None) in args else inner
    raise TypeError(f"unsupported field type {tp!r}")


def _decode_int(raw: Any) -> int:
    if type(raw) is not int or not _INT_MIN <= raw <= _INT_MAX:
        raise DecodeError(f"expected int, got {type(raw).__name__}")
    return raw


def _exact(kind: type) -> Decoder:
    def check(raw: Any) -> Any:
        if type(raw) is not kind:
            raise DecodeError(f"expected {kind.__name__}, got {type(raw).__name__}")
        return raw

    return check


def _enum_decoder(tp: type[enum.IntEnum]) -> Decoder:
    def check(raw: Any) -> Any:
        try:
            return tp(_decode_int(raw))
        except ValueError:
            raise DecodeError(f"{raw!r} is not a valid {tp.__name__}") from None

    return check


def _optional(inner: Decoder) -> Decoder:
    return lambda raw: None if raw is None else inner(raw)


def _tuple_decoder(item_type: Any) -> Decoder:
    def check(raw: Any) -> tuple[Any, ...]:
        if type(raw) is not list:
            raise DecodeError(f"expected list, got {type(raw).__name__}")
        if item_type in (bytes, str) and set(map(type, raw)) <= {item_type}:
            return tuple(raw)  # checked in C: a chunk's transactions
        item = _decoder_for(item_type)
        return tuple(item(x) for x in raw)

    return check


def _bounded(inner: Decoder, limit: int) -> Decoder:
    def check(raw: Any) -> Any:
        if type(raw) is list and len(raw) > limit:
            raise DecodeError(f"at most {limit} items, got {len(raw)}")
        return inner(raw)

    return check


def _union_decoder(members: tuple[type, ...]) -> Decoder:
    allowed = {_tag_of[m]: m for m in members}

    def check(raw: Any) -> Any:
        if type(raw) is not list or not raw or type(raw[0]) is not int:
            raise DecodeError("expected a tagged list")
        cls = allowed.get(raw[0])
        if cls is None:
            names = "/".join(m.__name__ for m in members)
            raise DecodeError(f"unexpected tag {raw[0]} (expected {names})")
        return _construct(cls, raw[1:])

    return check


def _construct(cls: type, values: list[Any]) -> Any:
    fields = _field_decoders(cls)
    if len(values) != len(fields):
        raise DecodeError(f"{cls.__name__} has {len(fields)} fields, got {len(values)}")
    return cls(*(dec(v) for dec, v in zip(fields, values, strict=True)))


_field_cache: dict[type, list[Decoder]] = {}


def _field_decoders(cls: type) -> list[Decoder]:
    cached = _field_cache.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        cached = _field_cache[cls] = [
            _decoder_for(hints[f.name]) for f in dataclasses.fields(cls) if f.init
        ]
    return cached
