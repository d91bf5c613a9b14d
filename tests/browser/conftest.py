"""Fixtures of the browser tests: a real server process, headless Chromium, and people.

Each test gets its own ``python -m server`` (fresh archive, so rooms and messages of other tests
never show) and its own browser. A test that needs server flags overrides ``server_flags``:
``@pytest.mark.parametrize("server_flags", [("--reconnect-grace", "1")])``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from .harness import People, Server, launch, missing


@pytest.fixture
def server_flags() -> tuple[str, ...]:
    return ()


@pytest.fixture
async def server(tmp_path: Path, server_flags: tuple[str, ...]) -> AsyncIterator[Server]:
    """This folder's server is a subprocess, as a user runs it (not the in-process one)."""
    process = Server(tmp_path / "server", *server_flags)
    await process.start()
    yield process
    await process.stop()
    print(f"--- server log ---\n{process.output}")  # shown by pytest only when the test fails
    # Every test doubles as a check that the client, used as people use it, stays within the
    # budget's defaults (docs/security.md, "The budget"): the server logs each connection's
    # first refusal.
    assert "over its budget" not in process.output


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    problem = missing()
    if problem:
        pytest.fail(f"{problem} (./scripts/test.sh installs it)")
    async with async_playwright() as playwright:
        chromium = await launch(playwright)
        yield chromium
        await chromium.close()


@pytest.fixture
async def people(browser: Browser, server: Server) -> AsyncIterator[People]:
    """``await people.new("Ann")``: a person at a browser of their own."""
    crowd = People(browser, server)
    yield crowd
    print(crowd.report())
    await crowd.close()
    # Every test doubles as a check that the client lives within the server's
    # Content-Security-Policy: the browser reports each thing the policy blocked.
    blocked = [
        line for p in crowd.people for line in p.console if "Content Security Policy" in line
    ]
    assert blocked == []
