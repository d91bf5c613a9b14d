"""Profiles as people use them: one person writes a profile, another sees the headline under
the name in the member list and the card on hovering the name, a new headline arrives at
once, a link that is not http(s) is refused, and "Who is here" on the home page lists the
people in public rooms but not who asked to be invisible."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .harness import People, Person, Server

pytestmark = pytest.mark.browser

HEADLINE = "Builds solar microgrids"


async def write_profile(person: Person, **fields: str) -> None:
    """Open the editor from the sidebar, fill ``fields`` and save."""
    await person.tid("edit-profile").click()
    dialog = person.tid("profile-dialog")
    await expect(dialog).to_be_visible()
    for field, value in fields.items():
        await dialog.get_by_test_id(f"profile-{field}").fill(value)
    await dialog.get_by_test_id("profile-save").click()
    await expect(dialog).to_be_hidden()


async def test_a_profile_shows_under_the_name_and_on_hover(people: People, server: Server) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Energy meetup", "open")

    # A javascript: link is refused before it is sent; the dialog says why.
    await ann.tid("edit-profile").click()
    await ann.tid("profile-link").fill("javascript:alert(1)")
    await ann.tid("profile-save").click()
    await expect(ann.tid("profile-dialog").get_by_role("alert")).to_have_text(
        "The website must start with https:// or http://."
    )
    await ann.tid("profile-dialog").get_by_role("button", name="Cancel").click()

    await ann.tid("edit-profile").click()
    await ann.tid("profile-about-public").uncheck()
    await ann.tid("profile-dialog").get_by_test_id("profile-save").click()
    await write_profile(
        ann,
        headline=HEADLINE,
        organisation="Sunny Co-op",
        link="https://sunny.example.org/team",
        about="Only for me",
    )
    await ann.say("Hello everyone")

    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    ann_id = await bob.id_of("Ann")
    await expect(bob.member(ann_id).get_by_test_id("member-headline")).to_have_text(HEADLINE)

    await bob.messages("Hello everyone").get_by_test_id("message-author").hover()
    card = bob.tid("profile-card")
    await expect(card).to_be_visible()
    await expect(card).to_have_attribute("data-user-id", ann_id)
    await expect(card.get_by_test_id("profile-card-headline")).to_have_text(HEADLINE)
    await expect(card).to_contain_text("Sunny Co-op")
    await expect(card).not_to_contain_text("Only for me")  # not public
    link = card.get_by_test_id("profile-link")
    await expect(link).to_have_attribute("href", "https://sunny.example.org/team")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")

    # A new headline reaches Bob's member list at once (profile:changed).
    await write_profile(ann, headline="Now: wind turbines")
    await expect(bob.member(ann_id).get_by_test_id("member-headline")).to_have_text(
        "Now: wind turbines"
    )


async def test_who_is_here_lists_people_in_public_rooms_but_not_the_invisible(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    await ann.create_room("Energy meetup", "open")
    await write_profile(ann, headline=HEADLINE)
    bob = await people.new("Bob")
    await bob.enter(server.url)
    await bob.create_room("Quiet corner", "open")
    await write_profile(bob, headline="Would rather not be found")
    await bob.tid("edit-profile").click()
    await bob.tid("profile-invisible").check()
    await bob.tid("profile-save").click()

    cleo = await people.new("Cleo")
    await cleo.enter(server.url)
    here = cleo.tid("here-list")
    await expect(here.get_by_test_id("here-person")).to_have_count(1)
    person = here.locator('[data-testid="here-person"][data-name="Ann"]')
    await expect(person.get_by_test_id("here-headline")).to_have_text(HEADLINE)
    await expect(person.get_by_test_id("here-room")).to_have_text("Energy meetup")

    await person.get_by_test_id("here-message").click()
    await expect(cleo.room()).to_have_attribute("data-kind", "dm")
