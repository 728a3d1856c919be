"""The OpenAPI document at /api/openapi.json: it lists exactly the routes the app serves,
and schemathesis checks the live server against it with every role's token and none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from mayday.auth import issue_token
from mayday.settings import Settings
from mayday.transport.app import create_app
from mayday.transport.openapi import PAGE_PATHS, document
from tests.conftest import SECRET
from tests.serving import Served, clean_env, serve

ROLES = ("none", "user", "advisor", "ops")
# Enough cases per endpoint and role to cross every parameter's edges; the whole module
# stays within about 20 s on the CI machine.
EXAMPLES = 25


def routed(settings: Settings) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app registers, HEAD aside."""
    found = set()
    for route in create_app(settings).router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        found.add((route.method.lower(), "/static/{path}" if path == "/static" else path))
    return found


@pytest.mark.parametrize("api_only", [False, True])
def test_the_document_lists_exactly_the_routes_served(api_only: bool) -> None:
    """Every route of the app is documented with its method, and every documented path
    is routed: a new endpoint must be added to mayday/transport/openapi.py."""
    settings = Settings(jwt_secret=SECRET, api_only=api_only)
    doc = document(pages=not api_only)
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routed(settings) == documented
    assert doc["openapi"].startswith("3.1")
    assert api_only == PAGE_PATHS.isdisjoint(doc["paths"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One real ``mayday serve`` for the whole module, with one finished session in it."""
    env = clean_env(MAYDAY_JWT_SECRET=SECRET, MAYDAY_LOG_LEVEL="WARNING")
    with serve(tmp_path_factory.mktemp("openapi"), env=env) as server:
        yield server


def headers(role: str) -> dict[str, str]:
    if role == "none":
        return {}
    token = issue_token(SECRET, role=role, sub=f"{role}-schemathesis")
    return {"Authorization": f"Bearer {token}"}


# The code's document; test_the_served_document_is_the_code_s checks that the live server
# serves this very document.
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_live_server_keeps_to_its_document(case: Any, live: Served) -> None:
    """Each endpoint, called with generated parameters as each role and with no token
    (every case is sent four times), answers as documented: status, content type, body
    schema, and never a 5xx."""
    if case.meta.generation.mode is GenerationMode.NEGATIVE:
        # A negative case may be negative in its Authorization header: it goes as it was
        # made (a role's token in its place made it a valid request, which the check then
        # called "invalid data accepted", now and then, as the generator chose).
        case.call_and_validate(base_url=live.base)
        return
    for role in ROLES:
        case.call_and_validate(base_url=live.base, headers=headers(role))


def test_the_served_document_is_the_code_s(live: Served) -> None:
    """/api/openapi.json serves the document of mayday/transport/openapi.py (the one the
    test above checks the server against), and schemathesis reads every operation."""
    loaded = schemathesis.openapi.from_url(f"{live.base}/api/openapi.json")
    assert loaded.raw_schema == document()
    operations = {(op.method.lower(), op.path) for op in map(_ok, loaded.get_all_operations())}
    # Loaded from a URL, schemathesis leaves out the operation that serves the document.
    expected = {(m, p) for p, ops in document()["paths"].items() for m in ops}
    assert operations == expected - {("get", "/api/openapi.json")}


def _ok(result: Any) -> Any:
    return result.ok()
