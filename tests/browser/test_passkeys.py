"""Passkeys in Chromium: attach one in one browser, sign in with it from another.

Each browser context has a virtual authenticator of Chromium's (Chrome DevTools Protocol,
``WebAuthn.addVirtualAuthenticator``): a platform authenticator with resident keys and user
verification that says yes by itself. The credential made in the first is copied into the
second's authenticator, as a passkey synced between two devices would be.

Passkeys need a secure context and an RP ID that is a domain, so the pages open
``http://localhost:port`` (not ``127.0.0.1``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import CDPSession, expect

from ..support.services import RedisProcess, postgres_cluster
from .harness import People, Person, Server

pytestmark = pytest.mark.browser

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def local(server: Server) -> str:
    return f"http://localhost:{server.port}/"


async def authenticator(person: Person) -> tuple[CDPSession, str]:
    """A virtual platform authenticator in the person's browser context."""
    cdp = await person.context.new_cdp_session(person.page)
    await cdp.send("WebAuthn.enable")
    made = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return cdp, made["authenticatorId"]


async def passkeys_of(cdp: CDPSession, device: str) -> list[dict[str, Any]]:
    answer = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": device})
    return list(answer["credentials"])


async def sign_in_elsewhere_with_a_passkey(people: People, laptop_url: str, phone_url: str) -> None:
    """Ann writes Bob, attaches a passkey on her laptop, signs in with it on her phone (whose
    page may be served by another process), finds the DM there, and from the phone signs the
    laptop out."""
    ann = await people.new("Ann")
    await ann.enter(laptop_url)
    room = await ann.create_room("Founders' breakfast", "open")
    bob = await people.new("Bob")
    await bob.open_room(laptop_url, room)
    ann_id, bob_id = await ann.user_id(), await bob.user_id()
    await ann.member(bob_id).click()
    await expect(ann.room()).to_have_attribute("data-kind", "dm")
    dm = await ann.room_id()
    await ann.say("Lovely to meet you, see you Thursday")
    await expect(ann.messages("Lovely to meet you, see you Thursday")).to_be_visible()

    cdp, laptop_key = await authenticator(ann)
    await ann.tid("sessions-open").click()
    await expect(ann.tid("passkeys-list")).to_contain_text("No passkeys yet.")
    await ann.tid("passkey-add").click()
    passkey = ann.tid("passkey")
    await expect(passkey).to_have_count(1)
    await expect(passkey.get_by_test_id("passkey-name")).to_have_text("Headless Chrome on Linux")
    await expect(passkey).to_contain_text("never used to sign in")
    (credential,) = await passkeys_of(cdp, laptop_key)
    assert credential["isResidentCredential"] is True
    await ann.tid("sessions-close").click()

    # The phone: no identity yet, the passkey synced to it.
    phone = await people.new("Ann")
    await phone.page.goto(phone_url)
    await expect(phone.tid("name-input")).to_be_visible()
    phone_cdp, phone_key = await authenticator(phone)
    await phone_cdp.send(
        "WebAuthn.addCredential", {"authenticatorId": phone_key, "credential": credential}
    )
    await phone.tid("passkey-signin").click()
    await expect(phone.tid("lobby")).to_be_visible()
    await phone.open_room(phone_url, dm)
    await expect(phone.messages("Lovely to meet you, see you Thursday")).to_be_visible()
    assert await phone.id_of("Ann") == ann_id

    await phone.tid("sessions-open").click()
    sessions = phone.tid("session")
    await expect(sessions).to_have_count(2)
    await expect(sessions.first).to_contain_text("this browser")
    await expect(phone.tid("passkey")).to_contain_text(re.compile("last used"))
    await sessions.nth(1).get_by_test_id("session-revoke").click()
    await expect(sessions).to_have_count(1)
    # The laptop is disconnected at once and asked for a name: it is nobody now.
    await expect(ann.tid("name-input")).to_be_visible()
    await expect(ann.page.get_by_role("alert")).to_have_text(
        re.compile("This browser was signed out")
    )


async def test_a_passkey_made_in_one_browser_signs_in_from_another(
    people: People, server: Server
) -> None:
    await sign_in_elsewhere_with_a_passkey(people, local(server), local(server))


async def test_a_passkey_whose_credential_was_removed_is_refused_clearly(
    people: People, server: Server
) -> None:
    ann = await people.new("Ann")
    await ann.enter(local(server))
    cdp, key = await authenticator(ann)
    await ann.tid("sessions-open").click()
    await ann.tid("passkey-add").click()
    await expect(ann.tid("passkey")).to_have_count(1)
    (credential,) = await passkeys_of(cdp, key)
    await ann.tid("passkey-remove").click()
    await expect(ann.tid("passkeys-list")).to_contain_text("No passkeys yet.")

    phone = await people.new("Ann")
    await phone.page.goto(local(server))
    phone_cdp, phone_key = await authenticator(phone)
    await phone_cdp.send(
        "WebAuthn.addCredential", {"authenticatorId": phone_key, "credential": credential}
    )
    await phone.tid("passkey-signin").click()
    await expect(phone.page.get_by_role("alert")).to_have_text(
        "This passkey is not attached to anybody here."
    )
    await expect(phone.tid("name-input")).to_be_visible()


@pytest.fixture
async def two_processes(tmp_path: Path) -> AsyncIterator[tuple[Server, Server]]:
    """Two server processes sharing a private redis-server and PostgreSQL (the scaled-out
    mode of docs/deployment.md)."""
    (tmp_path / "redis").mkdir()
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    try:
        with postgres_cluster() as cluster:
            database = await cluster.new_database()
            shared = ("--redis-url", redis.url, "--database-url", database)
            servers = (Server(tmp_path / "one", *shared), Server(tmp_path / "two", *shared))
            for server in servers:
                await server.start()
            try:
                yield servers
            finally:
                for server in servers:
                    await server.stop()
    finally:
        redis.stop()


async def test_a_passkey_signs_in_on_another_process_and_revokes_across_them(
    people: People, two_processes: tuple[Server, Server]
) -> None:
    one, two = two_processes
    await sign_in_elsewhere_with_a_passkey(people, local(one), local(two))
