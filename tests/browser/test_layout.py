"""The room's layout as a first-time user meets it: inviting people, labelled media buttons and
device pickers, the stage's big tile, and a sidebar whose entries can be told apart."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, expect

from .harness import People, Person, Server
from .test_workshop import workshop

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


async def box(locator: Locator) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None
    return found


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


async def fits(select: Locator, *, whole: bool = True) -> None:
    """The picker's tooltip is its device's whole name; if ``whole``, the name also fits in it
    (a longer one may end in an ellipsis)."""
    name = await select.evaluate("s => s.selectedOptions[0].textContent")
    assert name
    await expect(select).to_have_attribute("title", name)
    if not whole:
        return
    room = await select.evaluate(
        """s => {
          const style = getComputedStyle(s);
          const context = document.createElement("canvas").getContext("2d");
          context.font = style.font;
          const text = context.measureText(s.selectedOptions[0].textContent).width;
          const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
          return s.clientWidth - padding - 20 - text;  // 20: the drop-down arrow
        }"""
    )
    assert room >= 0, f"{name!r} is cut off by {-room:.0f}px"


async def test_a_new_rooms_creator_is_shown_its_link_and_invite_copies_it_beside_the_pickers(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.context.grant_permissions(  # her browser lets the page use the clipboard
        ["camera", "microphone", "clipboard-read", "clipboard-write"],
        origin=server.url.rstrip("/"),
    )
    await ann.enter(server.url)
    room = await ann.create_room("Friday coffee", "coffee")
    url = f"{server.url}r/{room}"

    # Right after creating the room, she is shown its link and asked to share it.
    panel = ann.tid("invite-panel")
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("Share this link")
    await expect(panel.get_by_test_id("invite-url")).to_have_value(url)

    # Inviting is a labelled button, with a name that says what it does.
    invite = ann.page.get_by_role("button", name="Invite: copy the room's link")
    await expect(invite).to_be_visible()
    await expect(invite).to_have_text("Invite")
    await ann.camera_on()
    await invite.click()
    await expect(invite).to_have_text("Link copied")
    assert await ann.page.evaluate("navigator.clipboard.readText()") == url
    # What says so covers none of the media controls (nor does any note at that moment).
    controls = [
        ann.tid("device-camera"),
        ann.tid("device-mic"),
        ann.tid("toggle-camera"),
        ann.tid("toggle-mic"),
        ann.tid("leave-room"),
    ]
    notes = [invite, *await ann.page.locator(".toast").all()]
    for note in notes:
        for control in controls:
            assert not overlap(await box(note), await box(control))

    await panel.get_by_test_id("invite-dismiss").click()
    await expect(panel).to_have_count(0)
    # Whoever follows the link is not asked to share it.
    bob = await people.new("Bob")
    await bob.open_room(server.url, room)
    await expect(bob.tid("invite-button")).to_have_text("Invite")
    await expect(bob.tid("invite-panel")).to_have_count(0)


async def test_on_desktop_the_media_buttons_are_labelled_and_a_camera_that_is_on_fills_the_stage(
    people: People, server: Server
) -> None:
    _, host, (ada,) = await workshop(people, server, "Ada")
    host_id, ada_id = await host.user_id(), await ada.user_id()
    await ada.tid("raise-hand").click()
    await host.queue_item("hand-queue", "hand-item", ada_id).get_by_test_id("hand-invite").click()
    await expect(ada.tid("workshop-status")).to_have_attribute("data-state", "stage")
    await ada.camera_on()

    # The host's camera is off, Ada's is on: her video is the big tile, the host's initial
    # the small one, for both of them.
    for person in (host, ada):
        await person.sees_video_on_stage(ada_id)
        big, small = await box(person.stage_tile(ada_id)), await box(person.stage_tile(host_id))
        assert big["width"] > 2 * small["width"]
        await expect(person.tid("stage-main").get_by_test_id("video-tile")).to_have_attribute(
            "data-user-id", ada_id
        )

    # On stage, on a desktop: every button says what it does, Leave included, and the pickers
    # show whole device names.
    for test_id, caption in [
        ("toggle-mic", "Unmute"),
        ("toggle-camera", "Stop video"),
        ("toggle-screen", "Share"),
        ("leave-stage", "Leave stage"),
        ("leave-room", "Leave"),
    ]:
        button = ada.tid(test_id)
        await expect(button).to_have_text(caption)
        caption_box = await box(button.locator(".caption"))
        assert caption_box["width"] > 0
    await fits(ada.tid("device-camera"))
    await fits(ada.tid("device-mic"), whole=False)  # "Fake Default Audio Input"
    await fits(host.tid("device-camera"))

    # On a phone the buttons are icons only (their names stay for screen readers).
    await ada.page.set_viewport_size(PHONE)
    await expect(ada.tid("toggle-mic").locator(".caption")).to_be_hidden()
    await expect(ada.page.get_by_role("button", name="Microphone")).to_be_visible()


async def test_the_sidebar_tells_home_from_the_lobby_room(people: People, server: Server) -> None:
    ann: Person = await people.new("Ann")
    await ann.enter(server.url)
    await ann.open_room(server.url, "lobby")
    await expect(ann.tid("room-title")).to_have_text("Lobby")
    links = ann.page.get_by_role("navigation", name="Rooms and messages").get_by_role("link")
    await expect(links).to_have_count(4)  # Home, Mentions, People, the Lobby room
    names = [" ".join(text.split()) for text in await links.all_inner_texts()]
    assert len(set(names)) == len(names), names
    await expect(ann.tid("home-link")).to_have_text("Home")
    await ann.tid("home-link").click()
    await expect(ann.tid("lobby")).to_be_visible()
