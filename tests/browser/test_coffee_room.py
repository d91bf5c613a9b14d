"""Coffee mornings in the browser: people see each other's video, and come and go."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .harness import People, Server

pytestmark = pytest.mark.browser


async def test_two_people_in_a_coffee_room_see_each_others_video(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Friday coffee", "coffee")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await expect(bob.room()).to_have_attribute("data-kind", "coffee")
    await expect(bob.tid("room-title")).to_have_text("Friday coffee")

    await ann.camera_on()
    await bob.camera_on()
    ann_id, bob_id = await ann.user_id(), await bob.user_id()
    await ann.sees_video_of(bob_id)
    await bob.sees_video_of(ann_id)


@pytest.mark.parametrize("server_flags", [("--reconnect-grace", "1")])
async def test_a_third_person_comes_and_goes_in_member_lists_and_video_grids(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    room = await ann.create_room("Monday coffee", "coffee")
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await ann.camera_on()
    await bob.camera_on()

    cleo = await people.new("Cleo")
    await cleo.open_room(server.url, room)
    await cleo.camera_on()
    cleo_id = await cleo.user_id()
    for other in (ann, bob):
        await expect(other.member(cleo_id)).to_have_attribute("data-name", "Cleo")
        await expect(other.tile(cleo_id)).to_be_visible()
        await expect(other.tile(cleo_id).get_by_test_id("tile-name")).to_have_text("Cleo")
    await expect(cleo.tile(await ann.user_id())).to_be_visible()
    await expect(cleo.tile(await bob.user_id())).to_be_visible()

    # Leaving with the button: the others see it at once.
    await cleo.tid("leave-room").click()
    await expect(cleo.tid("lobby")).to_be_visible()
    for other in (ann, bob):
        await expect(other.member(cleo_id)).to_have_count(0)
        await expect(other.tile(cleo_id)).to_have_count(0)

    # Back again, then the tab is closed: gone once the reconnect grace (1 s here) runs out.
    await cleo.open_room(server.url, room)
    await cleo.camera_on()
    for other in (ann, bob):
        await expect(other.tile(cleo_id)).to_be_visible()
    await cleo.page.close()
    for other in (ann, bob):
        await expect(other.member(cleo_id)).to_have_count(0)
        await expect(other.tile(cleo_id)).to_have_count(0)
    await expect(ann.member(await bob.user_id())).to_be_visible()
