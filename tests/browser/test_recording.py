"""Recording a workshop in the browser: the host starts and stops it, everybody sees it run."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .harness import People, Server
from .test_workshop import workshop

pytestmark = pytest.mark.browser


async def test_the_host_records_the_stage_and_every_guest_sees_it_while_it_runs(
    people: People, server: Server
) -> None:
    room, host, (ada,) = await workshop(people, server, "Ada")
    await host.camera_on()
    await ada.sees_video_on_stage(await host.user_id())
    # Nothing records yet; a guest has no button to start it.
    await expect(ada.tid("recording-indicator")).to_be_hidden()
    await expect(ada.tid("recording-toggle")).to_be_hidden()

    toggle = host.tid("recording-toggle")
    await expect(toggle).to_have_text("●Start recording")
    await toggle.click()
    await expect(toggle).to_have_text("■Stop recording")
    for person in (host, ada):
        mark = person.tid("recording-indicator")
        await expect(mark).to_be_visible()
        await expect(mark).to_contain_text("Recording")
        await expect(mark).to_have_attribute("title", re.compile(r"^Hana started recording"))

    # Somebody who comes while it runs sees the mark and is told.
    ben = await people.new("Ben")
    await ben.open_room(server.url, room)
    await expect(ben.tid("recording-indicator")).to_be_visible()
    await expect(ben.tid("toast")).to_contain_text("is being recorded")

    await toggle.click()
    await expect(toggle).to_have_text("●Start recording")
    for person in (host, ada, ben):
        await expect(person.tid("recording-indicator")).to_be_hidden()
