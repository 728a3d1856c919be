"""Handlers of client frames: tagged where they are written, registered by the app.

``@handler`` only tags a function with the frame type it takes, the roles that may
send it and the message class that parses it; ``@on_attach`` tags a function that
runs for every new socket. Nothing is registered by importing a module: the app
builds a ``Registry`` from the modules it chooses (``Registry.from_modules``), so
which handlers exist is decided in one visible place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from mayday.auth import Role
from mayday.protocol.errors import ErrorCode, ProtocolError
from mayday.transport.connection import Connection
from mayday.transport.services import Services

M = TypeVar("M")
Result = dict[str, Any] | None
HandlerFunc = Callable[[Services, Connection, Any], Awaitable[Result]]
AttachHook = Callable[[Services, Connection], Awaitable[None]]

_HANDLER = "__mayday_handler__"
_ON_ATTACH = "__mayday_on_attach__"


@dataclass(frozen=True)
class HandlerSpec:
    type: str
    roles: frozenset[Role]
    parse: Callable[[Mapping[str, Any]], Any]
    func: HandlerFunc


def handler(
    type_: str, *, roles: set[Role], message: type[M]
) -> Callable[[Callable[[Services, Connection, M], Awaitable[Result]]], HandlerFunc]:
    """Tag ``func`` as the handler of frames of ``type_``, sent by one of ``roles``, parsed
    as ``message``. The handler returns extra fields for the ``ack`` (or None); it raises
    ``ProtocolError`` to refuse the frame."""

    def tag(func: Callable[[Services, Connection, M], Awaitable[Result]]) -> HandlerFunc:
        parse = message.parse  # type: ignore[attr-defined]
        setattr(func, _HANDLER, HandlerSpec(type_, frozenset(roles), parse, func))
        return func

    return tag


def on_attach(func: AttachHook) -> AttachHook:
    """Tag ``func`` to run for every new socket, after its ``hello``."""
    setattr(func, _ON_ATTACH, True)
    return func


class Registry:
    """The handlers one server runs, by frame type, and its attach hooks."""

    def __init__(self, specs: Iterable[HandlerSpec], attach: Iterable[AttachHook] = ()) -> None:
        self._specs: dict[str, HandlerSpec] = {}
        for spec in specs:
            if spec.type in self._specs:
                raise ValueError(f'two handlers for "{spec.type}"')
            self._specs[spec.type] = spec
        self.attach_hooks = tuple(attach)

    @classmethod
    def from_modules(cls, *modules: ModuleType) -> Registry:
        """Every tagged function of these modules, in the order they are written."""
        found = [value for module in modules for value in vars(module).values()]
        specs = [getattr(f, _HANDLER) for f in found if hasattr(f, _HANDLER)]
        hooks = [f for f in found if getattr(f, _ON_ATTACH, False)]
        return cls(specs, hooks)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._specs)

    def lookup(self, frame: Mapping[str, Any], role: Role) -> HandlerSpec:
        """The handler for ``frame``, or the refusal: ``type`` missing or not a string,
        unknown, or not one ``role`` may send."""
        type_ = frame.get("type")
        if not isinstance(type_, str):
            raise ProtocolError(ErrorCode.INVALID_FIELD, 'field "type" must be a string')
        spec = self._specs.get(type_)
        if spec is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f'unknown type "{type_[:64]}"')
        if role not in spec.roles:
            raise ProtocolError(ErrorCode.FORBIDDEN, f'role "{role}" may not send "{type_}"')
        return spec
