"""Settings from flags and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import parse


def test_defaults_run_embedded_on_port_8080() -> None:
    settings = parse([], {})
    assert (settings.port, settings.data_dir, settings.redis_url) == (8080, Path("data"), None)
    assert settings.reconnect_grace == 15.0


def test_the_environment_sets_what_flags_do_not() -> None:
    settings = parse(
        ["--port", "9000"],
        {
            "PORT": "7000",
            "DATA_DIR": "/srv/percolate",
            "REDIS_URL": "redis://r:6379/1",
            "PRESENCE_TTL": "12",
            "STUN_URLS": "stun:a:3478, stun:b:3478",
            "TURN_SECRET": "",
        },
    )
    assert settings.port == 9000  # the flag wins
    assert settings.data_dir == Path("/srv/percolate")
    assert settings.redis_url == "redis://r:6379/1"
    assert (settings.presence_ttl, settings.heartbeat_interval) == (12.0, 4.0)
    assert settings.stun_urls == ("stun:a:3478", "stun:b:3478")
    assert settings.turn_secret is None  # empty means unset


def test_a_bad_value_stops_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--port", "eighty"], {})
    assert "--port" in capsys.readouterr().err


def test_a_bad_environment_value_stops_with_a_message_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse([], {"CHAT_RATE": "fast"})
    assert "--chat-rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse([], {"DATABASE_URL": "mysql://db/percolate"})
    assert "postgresql://" in capsys.readouterr().err


def test_the_log_level_is_one_of_four(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse([], {}).log_level == "info"
    assert parse([], {"LOG_LEVEL": "DEBUG"}).log_level == "debug"
    with pytest.raises(SystemExit):
        parse(["--log-level", "loud"], {})
    assert "--log-level" in capsys.readouterr().err


def test_sessions_last_a_positive_number_of_days(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse([], {"SESSION_DAYS": "0.5"}).session_days == 0.5
    with pytest.raises(SystemExit):
        parse(["--session-days", "0"], {})
    assert "--session-days [SESSION_DAYS] must be more than 0" in capsys.readouterr().err
