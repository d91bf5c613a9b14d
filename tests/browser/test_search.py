"""Search everywhere in the browser: a word said in two rooms is found in both, grouped by
room, and a result opens its room at the message, highlighted among its neighbours."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .harness import People, Server

pytestmark = pytest.mark.browser


async def test_search_everywhere_groups_by_room_and_opens_the_message(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    garden = await ann.create_room("Garden", "open")
    await ann.say("Tomatoes! Tomatoes everywhere, tomatoes")
    for i in range(1, 6):
        await ann.say(f"Watering round {i}")
    await expect(ann.messages("Watering round 5")).to_be_visible()

    bob = await people.new("Bob")
    await bob.enter(server.url)
    await bob.create_room("Kitchen", "open")
    await bob.say("Tomatoes for the soup")
    await expect(bob.messages("Tomatoes for the soup")).to_be_visible()

    await bob.tid("search-everywhere").check()
    search = bob.tid("search-input")
    await search.fill("tomatoes")
    await search.press("Enter")
    # The operators are told beside the results.
    await expect(bob.tid("search-hint")).to_contain_text("from:Ann")
    groups = bob.tid("search-group")
    # Grouped by room, the room of the best match first (Garden says it three times).
    await expect(groups.get_by_test_id("search-room")).to_have_text(["Garden", "Kitchen"])
    await expect(groups.nth(0).get_by_test_id("message-text")).to_have_text(
        ["Tomatoes! Tomatoes everywhere, tomatoes"]
    )
    await expect(groups.nth(1).get_by_test_id("message-text")).to_have_text(
        ["Tomatoes for the soup"]
    )

    # A click opens Garden (Bob never joined it) at that message, highlighted among the
    # messages around it.
    await groups.nth(0).get_by_test_id("search-hit").click()
    await expect(bob.room()).to_have_attribute("data-room-id", garden)
    await expect(bob.tid("room-title")).to_have_text("Garden")
    found = bob.tid("search-found")
    await expect(found.get_by_test_id("message-text")).to_have_text(
        "Tomatoes! Tomatoes everywhere, tomatoes"
    )
    await expect(found).to_have_class("message found")
    around = bob.tid("search-results").get_by_test_id("message-text")
    await expect(around).to_contain_text(["Tomatoes! Tomatoes everywhere", "Watering round 1"])
