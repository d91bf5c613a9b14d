"""Private rooms in the browser: unlisted, and a passcode asked of whoever follows the link."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .harness import People, Server

pytestmark = pytest.mark.browser


async def test_a_private_room_asks_for_its_passcode(people: People, server: Server) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Board meeting", "coffee", private=True, passcode="tulip-7")
    assert len(room) == 22  # a private room's link is its secret (docs/protocol.md)
    ann_id = await ann.user_id()

    bob = await people.new("Bob")
    await bob.enter(server.url)
    listed = bob.tid("room-list").get_by_test_id("room-item")
    await expect(listed.and_(bob.page.locator('[data-room-id="lobby"]'))).to_be_visible()
    await expect(listed.and_(bob.page.locator(f'[data-room-id="{room}"]'))).to_have_count(0)

    await bob.enter(f"{server.url}r/{room}")
    await expect(bob.tid("passcode-input")).to_be_visible()
    await bob.tid("passcode-input").fill("tulip-8")
    await bob.tid("passcode-submit").click()
    await expect(bob.tid("join-error")).to_be_visible()
    await expect(bob.member(ann_id)).to_have_count(0)  # nothing of the room shows

    await bob.tid("passcode-input").fill("tulip-7")
    await bob.tid("passcode-submit").click()
    await expect(bob.room()).to_have_attribute("data-room-id", room)
    await expect(bob.tid("room-title")).to_have_text("Board meeting")
    await expect(ann.member(await bob.user_id())).to_be_visible()
    await expect(bob.member(ann_id)).to_be_visible()
