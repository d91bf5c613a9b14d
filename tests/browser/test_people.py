"""Staying in touch as people do it: Bob asks Ann from her card, Ann is told and says yes on
the People page, both find each other there and one parts; a request Ann declines leaves the
asker none the wiser."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .harness import People, Person, Server

pytestmark = pytest.mark.browser


async def ask_from_card(asker: Person, text: str) -> None:
    """Open the author's card on one of their messages and say "Stay in touch"."""
    await asker.messages(text).get_by_test_id("message-author").hover()
    stay = asker.tid("profile-card").get_by_test_id("profile-card-stay")
    await expect(stay).to_have_text("Stay in touch")
    await stay.click()
    await expect(stay).to_have_text("Asked")


async def test_asked_from_a_card_said_yes_on_the_people_page_and_parted(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Founders' breakfast", "open")
    await ann.tid("invite-dismiss").click()
    await ann.say("I run a bakery and look for a web designer")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await bob.say("Happy to help with your site")
    cleo = await people.new("Cleo")
    await cleo.open_room(server.url, room)

    await ask_from_card(bob, "I run a bakery and look for a web designer")
    await ask_from_card(cleo, "I run a bakery and look for a web designer")
    # Ann is told at once, and the People link counts who asked.
    await expect(ann.tid("toast").filter(has_text="would like to stay in touch")).to_have_count(2)
    await expect(ann.tid("asked-badge")).to_have_text("2")

    await ann.tid("people-link").click()
    asked = ann.tid("asked-list").get_by_test_id("asked-person")
    await expect(asked).to_have_count(2)
    await asked.filter(has_text="Cleo").get_by_test_id("asked-decline").click()
    await asked.filter(has_text="Bob").get_by_test_id("asked-accept").click()
    await expect(ann.tid("asked-card")).to_be_hidden()
    await expect(ann.tid("asked-badge")).to_be_hidden()
    met = ann.tid("people-list").get_by_test_id("met-person")
    await expect(met).to_have_count(1)
    await expect(met).to_contain_text("Bob")
    await expect(met).to_contain_text("Met in Founders' breakfast")  # where Bob asked from

    # Bob finds Ann under People; Cleo still sees her request waiting, nothing more.
    await bob.tid("people-link").click()
    await expect(bob.tid("people-list").get_by_test_id("met-person")).to_contain_text("Ann")
    await cleo.tid("people-link").click()
    await expect(cleo.tid("asking-list").get_by_test_id("asking-person")).to_contain_text("Ann")
    await expect(cleo.tid("people-list").get_by_test_id("met-person")).to_have_count(0)

    # Bob parts: both lists empty at once.
    await bob.tid("people-list").get_by_test_id("met-remove").click()
    await expect(bob.tid("people-list").get_by_test_id("met-person")).to_have_count(0)
    await expect(ann.tid("people-list").get_by_test_id("met-person")).to_have_count(0)
