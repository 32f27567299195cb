"""A fast decode for bulk reads (a projection rebuild, a timeline): a stored event straight to its public message in
JSON form, without the domain event or pydantic.

``public_json(topic, state, mapper)`` gives what ``to_message`` would dump — (type, envelope, payload) — or None for a
type without a contract. Per contract a ``msgspec`` struct of its fields decodes the stored state in one pass of C:
str, int, bool, optional str and str-enum fields are typed and checked there; fields the stored state keeps in
another form (eventsourcing's ``{"_type_", "_data_"}`` markers for UUIDs, decimals and instants; nested objects) are
taken as they are and converted here, field by field, to what pydantic's JSON dump gives; keys that are not the
contract's (private fields, the chain's ``prev_hash`` and ``hash``, eventsourcing's ``timestamp``) are skipped
unread. The stored events were valid when written.

Where it cannot be sure — an unexpected value type, a missing field whose default is computed, an unknown
transcoding, a cipher or compressor — it raises ``SlowPath``: decode that one with ``to_message``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, NamedTuple
from uuid import UUID

import msgspec
from eventsourcing.persistence import Mapper

from shared.contracts import CONTRACTS


class SlowPath(Exception):
    """``public_json`` cannot decode this stored event by itself: use ``to_message`` on the domain event."""


def public_json(topic: str, state: bytes, mapper: Mapper[Any]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """The public message of a stored event in its JSON form — (type, envelope, payload) as ``to_message`` would
    dump them — or None when its type has no contract (see the module's documentation)."""
    type_name = public_type(topic)
    if type_name is None:
        return None
    if mapper.cipher is not None or mapper.compressor is not None:
        raise SlowPath("cipher or compressor")
    plan = _plans.get(type_name) or _plans.setdefault(type_name, _plan(CONTRACTS[type_name]))
    try:
        decoded = plan.decoder.decode(state)
    except msgspec.ValidationError as error:
        raise SlowPath(str(error)) from error
    payload = msgspec.structs.asdict(decoded)
    envelope = payload.pop("envelope")
    for name, convert in plan.converted:
        payload[name] = convert(payload[name])
    return type_name, envelope, payload


@functools.lru_cache(maxsize=1024)
def public_type(topic: str) -> str | None:
    """The contract type name of a stored event's topic (``module:Class.Event``), or None: it is not published."""
    name = topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return name if name in CONTRACTS else None


class _Plan(NamedTuple):
    """How to take a contract's payload from a stored state."""

    decoder: msgspec.json.Decoder  # the state -> a struct of the envelope and the contract's fields
    converted: tuple[tuple[str, Callable[[Any], Any]], ...]  # (name, stored value -> its JSON-mode payload value)


_plans: dict[str, _Plan] = {}  # contract type name -> its plan


def _plan(contract: type[Any]) -> _Plan:
    """The plan of a contract's fields (made once per contract)."""
    if {"prev_hash", "hash", "envelope"} & contract.model_fields.keys():
        raise TypeError(f"{contract.__name__}: prev_hash, hash and envelope are keys of a stored state")
    fields: list[tuple[str, Any, Any]] = [("envelope", dict[str, Any], msgspec.NODEFAULT)]
    converted = []
    for name, info in contract.model_fields.items():
        annotation = info.annotation
        if annotation in (str, int, bool, str | None, list[str]):
            kind = annotation
        elif isinstance(annotation, type) and issubclass(annotation, str) and issubclass(annotation, Enum):
            kind = Literal[tuple(member.value for member in annotation)]  # a str enum's JSON form is its value
        else:
            kind = Any
            converted.append((name, _SIMPLE.get(annotation) or _by_pydantic(annotation)))
        fields.append((name, kind, _default(info)))
    # A field with a default sorts after the required ones (msgspec's rule); the payload is compared as a dict.
    fields.sort(key=lambda field: field[2] is not msgspec.NODEFAULT)
    struct = msgspec.defstruct(f"Stored{contract.__name__}", fields)
    return _Plan(msgspec.json.Decoder(struct), tuple(converted))


def _default(info: Any) -> Any:
    """A field's default as msgspec takes it: none (required), a constant, or a new empty list or dict each time. A
    default made by another factory is made per message by pydantic: here the field is required, so a state without
    it takes the slow path."""
    if info.is_required():
        return msgspec.NODEFAULT
    if info.default_factory is None:
        if info.default is None or type(info.default) in (str, int, bool):
            return info.default
        if type(info.default) in (list, dict) and not info.default:
            return msgspec.field(default_factory=type(info.default))
    return msgspec.NODEFAULT


def _by_pydantic(annotation: Any) -> Callable[[Any], Any]:
    """Anything else (dates, nested models, ...): the stored value in JSON mode, validated and dumped by pydantic
    for that field alone (cheap next to the whole message)."""
    from pydantic import TypeAdapter

    adapter = TypeAdapter(annotation)

    def convert(value: Any) -> Any:
        return adapter.dump_python(adapter.validate_python(_json_mode(value)), mode="json")

    return convert


_TRANSCODED: dict[str, Callable[[Any], Any]] = {}
_NESTED = (dict, list)


def _json_mode(value: Any) -> Any:
    """A value of a stored state (plain JSON, eventsourcing's ``{"_type_", "_data_"}`` markers still in) as
    pydantic's ``model_dump(mode="json")`` gives it: UUIDs and decimals as strings, instants in pydantic's ISO."""
    if isinstance(value, dict):
        if "_type_" in value and len(value) == 2 and "_data_" in value:
            convert = _TRANSCODED.get(value["_type_"])
            if convert is None:
                raise SlowPath(value["_type_"])
            return convert(value["_data_"])
        if not any(type(item) in _NESTED for item in value.values()):
            return value  # nothing inside to convert (the decoded state is ours: no copy needed)
        return {key: _json_mode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_mode(item) for item in value]
    return value


def _uuid(value: Any) -> str:
    if type(value) is not str:
        raise SlowPath("uuid")
    if _HEX_UUID.fullmatch(value):  # as uuid_hex stores them: 32 lower-case hex digits; str(UUID(...)) without it
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(UUID(value))


_HEX_UUID = re.compile("[0-9a-f]{32}")


def _decimal(value: Any) -> str:
    if type(value) is not str:
        raise SlowPath("decimal")  # pydantic reads an int or a float its own way
    return str(Decimal(value))


_INSTANT: list[Any] = []


def _instant(value: Any) -> Any:
    if not _INSTANT:
        from pydantic import TypeAdapter

        _INSTANT.append(TypeAdapter(datetime))
    return _INSTANT[0].dump_python(datetime.fromisoformat(value), mode="json")


_TRANSCODED.update(uuid_hex=_uuid, decimal_str=_decimal, datetime_iso=_instant)


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(_json_mode(value))


def _json_object(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise SlowPath("dict")
    converted = _json_mode(value)
    if any(type(item) is float for item in converted.values()):
        raise SlowPath("float")  # inf and nan: pydantic's JSON form differs
    return converted  # type: ignore[no-any-return]


def _json_objects(value: Any) -> list[dict[str, Any]]:
    if type(value) is not list:
        raise SlowPath("list")
    return [_json_object(item) for item in value]


_SIMPLE: dict[Any, Callable[[Any], Any]] = {
    UUID: lambda value: _uuid(_json_mode(value)),
    UUID | None: _optional(_uuid),
    Decimal: lambda value: _decimal(_json_mode(value)),
    Decimal | None: _optional(_decimal),
    # JSON-native once the markers are converted: pydantic's JSON dump of them is the value itself.
    dict[str, Any]: _json_object,
    dict[str, Any] | None: lambda value: None if value is None else _json_object(value),
    list[dict[str, Any]]: _json_objects,
}
