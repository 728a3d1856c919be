"""The Grafana dashboard in docs/grafana asks only for what GET /metrics exposes."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from mayday.client import HelpOffer, SessionEnded, SessionStarted
from tests.conftest import Harness, StartServer

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana" / "mayday-dashboard.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
METRIC = re.compile(r"\b(mayday_[a-z0-9_]+)\b(?:\{([^}]*)\})?")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"')
GROUPING = re.compile(r"\bby\s*\(([^)]*)\)")


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression: the panels' queries and the query variables'."""
    exprs = [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found = re.search(r"query_result\((.*)\)$", variable["definition"])
            assert found, variable
            exprs.append(found.group(1))
    return exprs


async def scripted_session(h: Harness) -> None:
    """One answered session with a first frame, so every labelled series has a sample."""
    advisor = await h.client("advisor", "adv-1")
    user = await h.client("user", "tab-1")
    await advisor.set_available()
    await user.request_help(topic="billing")
    offer = await advisor.next(HelpOffer)
    started = await advisor.accept(offer.request_id)
    await user.next(SessionStarted)
    await user.call("media.state", session_id=started.session_id, state="first_frame")
    await advisor.end_session(started.session_id)
    await user.next(SessionEnded)


async def exposed(h: Harness) -> dict[str, list[dict[str, str]]]:
    """Sample name -> the label sets it is exposed with, parsed by prometheus_client."""
    async with aiohttp.ClientSession() as http, http.get(h.http_url + "/metrics") as r:
        assert r.status == 200
        text = await r.text()
    samples: dict[str, list[dict[str, str]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append(dict(sample.labels))
    return samples


def test_dashboard_is_grafana_json_on_one_prometheus_variable() -> None:
    """The dashboard is schema 39 JSON; every query goes to the ${DS_PROMETHEUS} variable."""
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] == 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"] == DATASOURCE, panel["title"]
    for expr in expressions(dashboard):
        for opening, closing in ("()", "[]", "{}"):
            assert expr.count(opening) == expr.count(closing), expr


async def test_dashboard_queries_name_only_exposed_metrics(start_server: StartServer) -> None:
    """After a scripted session, every metric a dashboard query names is in GET /metrics
    with the labels the query matches or groups by, and the service-level bucket selector
    matches the bucket whose upper bound is the target."""
    h = await start_server()
    await scripted_session(h)
    samples = await exposed(h)
    dashboard = json.loads(DASHBOARD.read_text())

    named = set()
    for expr in expressions(dashboard):
        labels_here: set[str] = set()
        for name, matchers in METRIC.findall(expr):
            assert name in samples, f"{name} is not exposed (query: {expr})"
            named.add(name)
            known = set().union(*(labels.keys() for labels in samples[name]))
            labels_here |= known
            for label in MATCHER.findall(matchers):
                assert label in known, f"{name} has no label {label} (query: {expr})"
        for grouping in GROUPING.findall(expr):
            for label in filter(None, (g.strip() for g in grouping.split(","))):
                assert label in labels_here, f"no metric in {expr!r} has label {label}"
    # The dashboard covers what ops watch.
    assert {
        "mayday_time_to_advisor_seconds_bucket",
        "mayday_time_to_accept_seconds_bucket",
        "mayday_target_seconds",
        "mayday_queue_depth",
        "mayday_oldest_wait_seconds",
        "mayday_advisors",
        "mayday_requests_total",
        "mayday_advisor_seconds_total",
    } <= named

    # $target is what Prometheus prints for mayday_target_seconds ("9"); the scrape labels
    # the bucket "9.0": the selector must take either.
    value = f"{h.settings.sla_target_s:.15g}"
    selectors = {m for e in expressions(dashboard) for m in re.findall(r'le=~"([^"]*)"', e)}
    assert len(selectors) == 1, selectors
    # Grafana puts a single-valued variable into a regex as it is.
    pattern = selectors.pop().replace("${target}", value)
    edges = [s["le"] for s in samples["mayday_time_to_advisor_seconds_bucket"]]
    matched = [le for le in edges if re.fullmatch(pattern, le)]
    assert len(matched) == 1 and float(matched[0]) == h.settings.sla_target_s, (pattern, edges)
