"""Handlers keyed by frame ``type``, each with the roles that may send it and its parser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mayday.auth import Role

if TYPE_CHECKING:
    from mayday.transport.connection import Connection
    from mayday.transport.server import Server

M = TypeVar("M")
Result = dict[str, Any] | None
HandlerFunc = Callable[["Server", "Connection", Any], Awaitable[Result]]


@dataclass(frozen=True)
class HandlerSpec:
    type: str
    roles: frozenset[Role]
    parse: Callable[[Mapping[str, Any]], Any]
    func: HandlerFunc


REGISTRY: dict[str, HandlerSpec] = {}


def handler(
    type_: str, *, roles: set[Role], message: type[M]
) -> Callable[[Callable[[Server, Connection, M], Awaitable[Result]]], HandlerFunc]:
    """Register ``func`` for frames of ``type_``, sent by one of ``roles``, parsed as ``message``.

    The handler returns extra fields for the ``ack`` (or None); it raises
    ``ProtocolError`` to refuse the frame.
    """

    def register(func: Callable[[Server, Connection, M], Awaitable[Result]]) -> HandlerFunc:
        if type_ in REGISTRY:
            raise RuntimeError(f'two handlers for "{type_}"')
        parse = message.parse  # type: ignore[attr-defined]
        REGISTRY[type_] = HandlerSpec(type_, frozenset(roles), parse, func)
        return func

    return register
