"""Free-text topics never grow /metrics or the ops view without bound (issue 16, finding 2)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from redis.asyncio import Redis

from mayday.metrics.labels import LocalAdmission, RedisAdmission, TopicLabels
from tests.conftest import Harness, StartServer

TOPIC_LABEL = re.compile(r'topic="([^"]*)"')


async def test_the_first_topics_get_labels_and_the_rest_count_as_other() -> None:
    """Up to the limit each distinct topic is its own label; then every new one is other,
    while those admitted keep theirs. No topic is ever counted as a reserved name."""
    labels = TopicLabels(limit=2)
    assert [await labels.label(t) for t in ("wifi", "print", "mail", "wifi")] == [
        "wifi",
        "print",
        "other",
        "wifi",
    ]
    assert await labels.label("") == "none"
    assert await labels.label("(advisors)") == "other"


async def test_a_configured_list_fixes_the_labels() -> None:
    """With MAYDAY_TOPICS only the listed topics are labels, however many others come."""
    labels = TopicLabels(limit=100, allowed=("wifi", "billing"))
    assert [await labels.label(t) for t in ("billing", "nope", "wifi")] == [
        "billing",
        "other",
        "wifi",
    ]


async def test_processes_on_redis_share_the_admitted_topics(redis_url: str) -> None:
    """Two processes on one Redis admit from one set: the last place is taken once, and a
    topic one process admitted is a label on the other too."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        one = TopicLabels(2, admission=RedisAdmission(redis, "{t}:topics"))
        two = TopicLabels(2, admission=RedisAdmission(redis, "{t}:topics"))
        assert await one.label("wifi") == "wifi"
        assert await two.label("print") == "print"
        assert await one.label("mail") == "other"
        assert await one.label("print") == "print"
        assert await two.label("wifi") == "wifi"
        assert await redis.scard("{t}:topics") == 2
    finally:
        await redis.aclose()


async def test_local_admission_is_bounded() -> None:
    """The embedded admitted set never holds more than the limit."""
    admission = LocalAdmission()
    assert [await admission.admit(str(i), 3) for i in range(5)] == [True] * 3 + [False] * 2


@pytest.fixture
async def busy(start_server: StartServer) -> Harness:
    return await start_server(max_topic_labels=20, rate_limit_per_s=5000.0, rate_limit_burst=5000)


async def test_distinct_topics_do_not_grow_metrics_or_the_ops_view(busy: Harness) -> None:
    """300 requests with 300 distinct topics: /metrics and /api/ops/summary name at most
    the 20 admitted topics plus other and none."""
    user = await busy.client("user", "u1")
    for i in range(300):
        queued = await user.request_help(topic=f"topic {i} " + "x" * 150)
        await user.cancel(queued.request_id)
    ops_token = busy.token("ops", "o1")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{busy.http_url}/metrics") as response:
            metrics = await response.text()
        headers = {"Authorization": f"Bearer {ops_token}"}
        async with http.get(f"{busy.http_url}/api/ops/summary", headers=headers) as response:
            summary = await response.json()
    labels = set(TOPIC_LABEL.findall(metrics))
    assert "other" in labels
    assert len(labels - {"other", "none"}) == 20
    assert 'mayday_requests_total{outcome="cancelled",topic="other"} 280.0' in metrics
    assert len(metrics) < 200_000
    topics = set(summary["windows"]["5m"]["topics"])
    assert topics <= labels and "other" in topics
    assert summary["windows"]["5m"]["topics"]["other"]["abandoned"] == 280
