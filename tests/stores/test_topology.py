"""The ``--redis`` URL forms: which topology each names, the refusals of a wrong one, and
that no password ever shows where an operator reads the settings."""

from __future__ import annotations

import pytest

from mayday.routing.config import SettingsError
from mayday.settings import Settings
from mayday.settings_report import secret_values, shown
from mayday.stores.topology import RedisTarget, RedisUrlError, parse_redis_url

SECRET = "s" * 32


def test_single_server_urls_are_redis_pys_own() -> None:
    """redis://, rediss:// and unix:// name one server, read by redis-py as before."""
    for url in ("redis://127.0.0.1:6379/0", "rediss://:pw@h:6380/1", "unix:///tmp/r.sock"):
        assert parse_redis_url(url) == RedisTarget("single", url)


def test_sentinel_url_names_its_sentinels_service_and_credentials() -> None:
    """redis+sentinel:// gives every sentinel, the service name and the data's credentials."""
    url = "redis+sentinel://app:p%40ss@10.0.0.1:26379,10.0.0.2:26380/mymaster"
    assert parse_redis_url(url) == RedisTarget(
        "sentinel",
        url,
        (("10.0.0.1", 26379), ("10.0.0.2", 26380)),
        "mymaster",
        username="app",
        password="p@ss",
    )


def test_sentinel_password_of_the_sentinels_themselves_is_an_option() -> None:
    """?sentinel_password= authenticates to the sentinels; the URL's own password to Redis."""
    target = parse_redis_url("redis+sentinel://:pw@h:26379/svc?sentinel_password=spw")
    assert (target.password, target.sentinel_password, target.username) == ("pw", "spw", None)


def test_cluster_url_names_its_startup_nodes() -> None:
    """redis+cluster:// gives every startup node and the credentials."""
    url = "redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001,[::1]:7002"
    target = parse_redis_url(url)
    assert target.kind == "cluster"
    assert target.hosts == (("127.0.0.1", 7000), ("127.0.0.1", 7001), ("::1", 7002))
    assert target.password == "pw"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("127.0.0.1:6379", "needs a scheme"),
        ("redis+sentinal://h:1/m", "unknown Redis URL scheme redis+sentinal://"),
        ("redis+sentinel://h:26379", "ends with the service name"),
        ("redis+sentinel://h:26379/a/b", "ends with the service name"),
        ("redis+sentinel://h/m", "every port given, not 'h'"),
        ("redis+cluster://h:7000,h:x", "every port given, not 'h:x'"),
        ("redis+cluster://h:7000/0", "has no path"),
        ("redis+cluster://h:7000?password=x", "does not take password"),
        ("redis+sentinel://h:1/m?sentinel_pass=x", "does not take sentinel_pass"),
    ],
)
def test_a_wrong_url_is_refused_with_its_fault(url: str, says: str) -> None:
    """Each wrong URL is refused with a message naming what is wrong."""
    with pytest.raises(RedisUrlError) as caught:
        parse_redis_url(url)
    assert says in str(caught.value)


def test_settings_refuse_a_wrong_url_without_showing_its_password() -> None:
    """A wrong MAYDAY_REDIS_URL stops the start; the message holds no password."""
    with pytest.raises(SettingsError) as caught:
        Settings(jwt_secret=SECRET, redis_url="redis+sentinel://:hunter2-pw@h:26379")
    assert "redis_url" in str(caught.value)
    assert "hunter2-pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "redis+sentinel://:hunter2-pw@h1:26379,h2:26380/mymaster",
            "redis+sentinel://:***@h1:26379,h2:26380/mymaster",
        ),
        (
            "redis+sentinel://app:hunter2-pw@h1:26379/mymaster?sentinel_password=hunter2-pw",
            "redis+sentinel://app:***@h1:26379/mymaster?***",
        ),
        (
            "redis+cluster://:hunter2-pw@n1:7000,n2:7001,n3:7002",
            "redis+cluster://:***@n1:7000,n2:7001,n3:7002",
        ),
        ("redis://:hunter2-pw@127.0.0.1:6390/2", "redis://:***@127.0.0.1:6390/2"),
    ],
)
def test_check_config_masks_every_form(url: str, masked: str) -> None:
    """check-config shows the hosts and service of any form, never its password."""
    assert shown("redis_url", url) == masked
    settings = Settings(jwt_secret=SECRET, redis_url=url)
    assert "hunter2-pw" in secret_values(settings)  # so the log filter takes it out
