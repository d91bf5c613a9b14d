"""Sessions in the browser: the list, this browser's mark, and another device signed out."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .harness import People, Server

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


async def test_signing_out_another_device_disconnects_it_and_it_asks_for_a_name(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    phone = await people.elsewhere(ann, "Safari on iPhone", hours_ago=3, viewport=PHONE)
    await expect(phone.tid("lobby")).to_be_visible()
    token = await phone.page.evaluate("localStorage.getItem('percolate.token')")

    await ann.tid("sessions-open").click()
    sessions = ann.tid("session")
    await expect(sessions).to_have_count(2)
    await expect(sessions.first).to_contain_text("this browser")
    await expect(sessions.first).to_contain_text("Active now")
    await expect(sessions.nth(1)).to_contain_text("Safari on iPhone")
    await expect(sessions.nth(1)).to_contain_text("Last seen 3 hours ago")

    await sessions.nth(1).get_by_test_id("session-revoke").click()
    await expect(sessions).to_have_count(1)
    await expect(ann.tid("sessions-revoke-others")).to_be_disabled()
    # The phone is disconnected at once and starts afresh: its token is gone, it asks a name.
    await expect(phone.tid("name-input")).to_be_visible()
    await expect(phone.page.get_by_role("alert")).to_have_text(
        re.compile("This browser was signed out")
    )
    assert await phone.page.evaluate("localStorage.getItem('percolate.token')") is None
    await phone.tid("name-submit").click()
    await expect(phone.tid("lobby")).to_be_visible()
    stored = await phone.page.wait_for_function("() => localStorage.getItem('percolate.token')")
    assert await stored.json_value() != token  # somebody new
    # Ann's own browser goes on.
    await ann.tid("sessions-close").click()
    await ann.create_room("Still here", "open")
