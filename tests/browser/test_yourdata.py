"""Your data in the browser: "Download my data" saves a JSON file with one's messages, and
erasing oneself signs the browser out to the welcome screen."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import expect

from .harness import People, Server

pytestmark = pytest.mark.browser


async def test_download_my_data_then_erase_me(people: People, server: Server) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    await ann.create_room("Field notes", "open")
    for text in ("first light at the marsh", "two herons, one egret"):
        await ann.say(text)

    await ann.tid("yourdata-open").click()
    async with ann.page.expect_download() as started:
        await ann.tid("yourdata-download").click()
    download = await started.value
    assert re.fullmatch(r"percolate-ann-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    exported = json.loads((await download.path()).read_text())
    assert exported["user"]["name"] == "Ann"
    assert [m["text"] for m in exported["messages"]] == [
        "first light at the marsh",
        "two herons, one egret",
    ]
    await expect(ann.tid("yourdata-status")).to_have_text("Downloaded.")

    erase = ann.tid("yourdata-erase")
    await expect(erase).to_be_disabled()
    await ann.tid("yourdata-erase-confirm").fill("Anne")
    await expect(erase).to_be_disabled()
    await ann.tid("yourdata-erase-confirm").fill("Ann")
    await erase.click()
    # Signed out everywhere: the welcome screen asks for a name, the token is gone.
    await expect(ann.tid("name-input")).to_be_visible()
    await expect(ann.tid("yourdata-dialog")).to_have_count(0)
    assert await ann.page.evaluate("localStorage.getItem('percolate.token')") is None
