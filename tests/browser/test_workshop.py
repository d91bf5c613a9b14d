"""Workshops in the browser: a host runs the room, guests raise hands, come on stage, wait."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .harness import People, Person, Server

pytestmark = pytest.mark.browser


async def workshop(
    people: People, server: Server, *guests: str
) -> tuple[str, Person, list[Person]]:
    """A host creates a workshop from the lobby (the creator is its host); guests use the link."""
    host = await people.new("Hana")
    await host.enter(server.url)
    room = await host.create_room("Pricing for freelancers", "workshop")
    await expect(host.tid("workshop-status")).to_have_attribute("data-state", "host")
    joined = []
    for name in guests:
        guest = await people.new(name)
        await guest.open_room(server.url, room)
        await expect(guest.tid("workshop-status")).to_have_attribute("data-state", "audience")
        joined.append(guest)
    return room, host, joined


async def test_the_host_brings_a_raised_hand_on_stage_mutes_it_and_removes_a_guest(
    people: People, server: Server
) -> None:
    room, host, (ada, ben) = await workshop(people, server, "Ada", "Ben")
    host_id, ada_id, ben_id = await host.user_id(), await ada.user_id(), await ben.user_id()
    badge = ada.member(host_id).get_by_test_id("role-badge")
    await expect(badge).to_have_attribute("data-role", "host")
    # The audience watches: no camera or microphone until a host brings them on stage.
    await expect(ada.tid("toggle-camera")).to_be_disabled()
    await expect(ada.tid("toggle-mic")).to_be_disabled()

    await ada.tid("raise-hand").click()
    await expect(ada.tid("raise-hand")).to_have_attribute("aria-pressed", "true")
    hand = host.queue_item("hand-queue", "hand-item", ada_id)
    await expect(hand).to_be_visible()
    await expect(ben.tid("audience-list").locator(f'[data-user-id="{ada_id}"]')).to_have_attribute(
        "data-hand", "true"
    )
    await hand.get_by_test_id("hand-invite").click()
    await expect(ada.tid("moderation-notice")).to_contain_text("brought you on stage")
    await expect(ada.tid("workshop-status")).to_have_attribute("data-state", "stage")
    await expect(host.tid("hand-queue")).to_have_count(0)  # her hand went down by itself
    await expect(ben.member(ada_id).get_by_test_id("role-badge")).to_have_attribute(
        "data-role", "presenter"
    )

    # On stage, she turns her camera on: the host and the other guest both see her.
    await ada.camera_on()
    await host.sees_video_on_stage(ada_id)
    await ben.sees_video_on_stage(ada_id)

    # The host turns her camera off: she is told who did it, and her camera really goes off.
    await host.moderate(ada_id, "control-mute-camera")
    await expect(ada.tid("moderation-notice")).to_contain_text("Hana turned off your camera")
    await expect(ada.tid("toggle-camera")).to_have_attribute("aria-pressed", "false")
    for person in (host, ben, ada):
        camera = person.stage_tile(ada_id).get_by_test_id("tile-camera")
        await expect(camera).to_have_attribute("data-on", "false")

    # The host removes Ben: he is out, out of the member list, and cannot come back.
    await host.moderate(ben_id, "control-remove")
    await host.tid("confirm-ok").click()
    await expect(ben.tid("removed-screen")).to_have_attribute("data-reason", "removed")
    await expect(host.member(ben_id)).to_have_count(0)
    await expect(ada.member(ben_id)).to_have_count(0)
    await expect(host.queue_item("banned-list", "banned-item", ben_id)).to_be_visible()
    await ben.page.reload()
    await expect(ben.tid("join-error")).to_contain_text("removed you")
    await ben.page.goto(f"{server.url}r/{room}")
    await expect(ben.tid("join-error")).to_contain_text("removed you")
    await expect(ben.room()).to_have_count(0)

    # Until a host allows him back.
    banned = host.queue_item("banned-list", "banned-item", ben_id)
    await banned.get_by_test_id("banned-allow").click()
    await expect(host.tid("banned-list")).to_have_count(0)
    await ben.page.reload()
    await expect(ben.room()).to_have_attribute("data-room-id", room)
    await expect(host.member(ben_id)).to_have_attribute("data-role", "guest")


async def test_newcomers_wait_until_the_host_admits_them(people: People, server: Server) -> None:
    room, host, _ = await workshop(people, server)
    await host.tid("toggle-waiting").click()
    await expect(host.tid("toggle-waiting")).to_have_attribute("aria-pressed", "true")

    cleo = await people.new("Cleo")
    await cleo.give_name(f"{server.url}r/{room}")
    await expect(cleo.tid("waiting-screen")).to_be_visible()
    await expect(cleo.room()).to_have_count(0)
    dan = await people.new("Dan")
    await dan.give_name(f"{server.url}r/{room}")
    await expect(dan.tid("waiting-screen")).to_be_visible()

    waiting = host.tid("waiting-list").get_by_test_id("waiting-item")
    await expect(waiting).to_have_count(2)
    await expect(waiting.first).to_have_attribute("data-name", "Cleo")  # first come, first listed
    cleo_id = await waiting.first.get_attribute("data-user-id")
    assert cleo_id
    await waiting.first.get_by_test_id("waiting-admit").click()
    await expect(cleo.room()).to_have_attribute("data-room-id", room)
    await expect(host.member(cleo_id)).to_have_attribute("data-name", "Cleo")

    await host.tid("waiting-list").get_by_test_id("waiting-decline").click()
    await expect(dan.tid("declined-screen")).to_be_visible()
    await expect(host.tid("waiting-list")).to_have_count(0)

    # Locked, the room takes nobody new, waiting room or not.
    await host.tid("toggle-lock").click()
    await expect(host.tid("toggle-lock")).to_have_attribute("aria-pressed", "true")
    eve = await people.new("Eve")
    await eve.give_name(f"{server.url}r/{room}")
    await expect(eve.tid("join-error")).to_have_text("The room is locked.")


async def test_the_host_pins_a_message_turns_chat_off_and_ends_the_workshop(
    people: People, server: Server
) -> None:
    _, host, (gus,) = await workshop(people, server, "Gus")
    await host.say("Slides: https://example.org/slides")
    message = host.messages("Slides: https://example.org/slides")
    await message.hover()
    await message.get_by_test_id("message-pin").click()
    await expect(gus.tid("pinned-message")).to_contain_text("https://example.org/slides")
    pins = gus.messages().get_by_test_id("message-pin").filter(visible=True)
    await expect(pins).to_have_count(0)  # pinning is for hosts

    await host.tid("toggle-chat").click()
    await expect(host.tid("toggle-chat")).to_have_attribute("aria-pressed", "false")
    await expect(gus.tid("chat-input")).to_be_disabled()
    await expect(gus.tid("chat-off")).to_have_text("The host turned chat off.")
    # Reacting, editing and deleting are writing too: no message offers them to the audience.
    await gus.messages("Slides: https://example.org/slides").hover()
    await expect(gus.messages().get_by_test_id("message-actions")).to_be_hidden()
    await host.say("Questions at the end, please")  # hosts still write
    await expect(gus.messages("Questions at the end, please")).to_be_visible()

    await host.tid("end-workshop").click()
    await host.tid("confirm-ok").click()
    for person in (gus, host):
        screen = person.tid("removed-screen")
        await expect(screen).to_have_attribute("data-reason", "ended")
        await expect(screen).to_contain_text(re.compile("ended", re.I))


async def test_a_presenter_sent_back_stops_publishing_and_the_host_hands_over(
    people: People, server: Server
) -> None:
    _, host, (ada, ben) = await workshop(people, server, "Ada", "Ben")
    host_id, ada_id = await host.user_id(), await ada.user_id()
    await host.moderate(ada_id, "control-stage")
    await expect(ada.tid("workshop-status")).to_have_attribute("data-state", "stage")
    await ada.camera_on()
    await ben.sees_video_on_stage(ada_id)

    await host.moderate(ada_id, "control-stage")  # back to the audience
    await expect(ada.tid("moderation-notice")).to_contain_text("moved you back to the audience")
    await expect(ada.tid("toggle-camera")).to_have_attribute("aria-pressed", "false")
    await expect(ada.tid("toggle-camera")).to_be_disabled()
    for person in (host, ben, ada):
        await expect(person.stage_tile(ada_id)).to_have_count(0)
    await expect(ben.tid("audience-list").locator(f'[data-user-id="{ada_id}"]')).to_be_visible()

    # The host hands the room to Ada, who stays host after a reload (her new host key).
    await host.moderate(ada_id, "control-handover")
    await host.tid("confirm-ok").click()
    await expect(ada.tid("workshop-status")).to_have_attribute("data-state", "host")
    await expect(ada.tid("end-workshop")).to_be_visible()
    await expect(host.tid("workshop-status")).to_have_attribute("data-state", "cohost")
    await expect(host.tid("end-workshop")).to_have_count(0)
    cohost = ben.member(host_id).get_by_test_id("role-badge")
    await expect(cohost).to_have_attribute("data-role", "cohost")
    await ada.page.reload()
    await expect(ada.tid("workshop-status")).to_have_attribute("data-state", "host")
    await host.page.reload()  # the old key is void: back as co-host, no error
    await expect(host.tid("workshop-status")).to_have_attribute("data-state", "cohost")
