"""Contact cards (``card:set``, ``card:get``, ``card:share``, ``card:changed``) with real
clients on SQLite and PostgreSQL: a card is checked, each contact sees exactly what its owner
shares with them and hears when that changes, and nobody else ever sees any of it: not who
was declined, not a contact removed, not somebody blocked."""

from __future__ import annotations

from typing import Any

import pytest

from .support.client import Client
from .support.servers import Running

CARD = {"email": "ann@example.org", "phone": "+44 20 7946 0958", "link": "https://ann.example"}
EMPTY = {"email": "", "phone": "", "link": ""}
NOT_EMAIL = "email must be an e-mail address such as ann@example.org"
NOT_PHONE = "phone must be a number: digits, spaces, + ( ) - . / only"
NOT_WEB = "link must start with https:// or http://"


@pytest.fixture
def server(archived_server: Running) -> Running:
    return archived_server  # each test on SQLite, then PostgreSQL


@pytest.fixture
def backend() -> str:
    return "memory"


async def in_touch(a: Client, b: Client) -> None:
    await a.ok("people:stay", {"user": b.user_id})
    await b.ok("people:stay", {"user": a.user_id})
    await a.wait("people:met")
    await b.wait("people:met")


async def contact(client: Client, other: Client) -> dict[str, Any] | None:
    """``other`` as ``client``'s ``people:list`` shows them among contacts, if at all."""
    listed = await client.ok("people:list")
    return next((p for p in listed["people"] if p["user"]["id"] == other.user_id), None)


async def card_seen(client: Client, owner: Client) -> dict[str, str] | None:
    person = await contact(client, owner)
    return person["card"] if person else None


async def test_a_card_is_kept_as_set_and_fields_left_out_stay(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    fresh = await ann.ok("card:get")
    assert fresh["card"] == {**EMPTY, "share": ["email", "phone", "link"]}
    set_ = await ann.ok("card:set", {**CARD, "share": ["email"]})
    assert set_["card"] == {**CARD, "share": ["email"]}
    await ann.ok("card:set", {"phone": "  "})  # trimmed to empty: cleared
    assert (await ann.ok("card:get"))["card"] == {**CARD, "phone": "", "share": ["email"]}


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ({"link": "javascript:alert(1)"}, "bad_request", NOT_WEB),
        ({"link": "data:text/html,hi"}, "bad_request", NOT_WEB),
        ({"link": "ftp://files.example"}, "bad_request", NOT_WEB),
        ({"email": "ann"}, "bad_request", NOT_EMAIL),
        ({"email": "a@b"}, "bad_request", NOT_EMAIL),
        ({"email": "ann @example.org"}, "bad_request", NOT_EMAIL),
        ({"phone": "call me"}, "bad_request", NOT_PHONE),
        ({"phone": "+1"}, "bad_request", NOT_PHONE),
        ({"phone": "5" * 33}, "too_large", "phone must be at most 32 characters"),
        ({"email": "a" * 250 + "@x.org"}, "too_large", "email must be at most 254 characters"),
        ({"email": "a\u202e@x.org"}, "bad_request", "email must not contain control characters"),
        ({"share": ["address"]}, "bad_request", None),
        ({"email": None}, "bad_request", None),
    ],
)  # fmt: skip
async def test_a_bad_card_is_refused_clearly_and_nothing_changes(
    server: Running, connect, payload: dict[str, Any], code: str, message: str | None
) -> None:
    ann = await connect(server.url, "Ann")
    await ann.ok("card:set", CARD)
    ack = await ann.call("card:set", payload)
    assert ack["ok"] is False and ack["error"]["code"] == code
    if message is not None:
        assert ack["error"]["message"] == message
    assert (await ann.ok("card:get"))["card"] == {**CARD, "share": ["email", "phone", "link"]}


async def test_each_contact_sees_exactly_what_is_shared_with_them_and_hears_changes(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    cleo = await connect(server.url, "Cleo")
    await ann.ok("card:set", {**CARD, "share": []})  # new contacts see nothing at first
    await in_touch(ann, bob)
    await in_touch(ann, cleo)
    assert await card_seen(bob, ann) == EMPTY
    assert (await contact(ann, bob) or {})["sharing"] == []

    # E-mail only with Bob, phone only with Cleo: each is told at once.
    ack = await ann.ok("card:share", {"user": bob.user_id, "fields": ["email"]})
    assert ack == {"ok": True, "user": bob.user_id, "fields": ["email"]}
    changed = await bob.wait("card:changed")
    assert changed == {"user": ann.user_id, "card": {**EMPTY, "email": CARD["email"]}}
    await ann.ok("card:share", {"user": cleo.user_id, "fields": ["phone"]})
    assert (await cleo.wait("card:changed"))["card"] == {**EMPTY, "phone": CARD["phone"]}
    assert await card_seen(bob, ann) == {**EMPTY, "email": CARD["email"]}
    assert await card_seen(cleo, ann) == {**EMPTY, "phone": CARD["phone"]}
    assert (await contact(ann, bob) or {})["sharing"] == ["email"]
    assert (await contact(ann, cleo) or {})["sharing"] == ["phone"]
    # Bob's own card, empty, is what Ann sees of him: sharing is each one's own.
    assert await card_seen(ann, bob) == EMPTY

    # A new e-mail reaches Bob, who sees it; Cleo, who does not, hears nothing.
    await ann.ok("card:set", {"email": "ann@bakery.example"})
    assert (await bob.wait("card:changed"))["card"]["email"] == "ann@bakery.example"
    assert await card_seen(cleo, ann) == {**EMPTY, "phone": CARD["phone"]}
    assert not cleo.events("card:changed")


async def test_new_contacts_get_the_default_and_a_later_default_leaves_them_be(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    cleo = await connect(server.url, "Cleo")
    await ann.ok("card:set", {**CARD, "share": ["link"]})
    await in_touch(ann, bob)
    assert await card_seen(bob, ann) == {**EMPTY, "link": CARD["link"]}
    await ann.ok("card:set", {"share": ["email", "phone"]})
    await in_touch(ann, cleo)
    assert await card_seen(cleo, ann) == {**EMPTY, "email": CARD["email"], "phone": CARD["phone"]}
    assert await card_seen(bob, ann) == {**EMPTY, "link": CARD["link"]}
    # Becoming contacts tells each the other's card with people:met.
    dan = await connect(server.url, "Dan")
    await dan.ok("people:stay", {"user": ann.user_id})
    await ann.ok("people:stay", {"user": dan.user_id})
    met = (await dan.wait("people:met"))["person"]
    assert met["card"] == {**EMPTY, "email": CARD["email"], "phone": CARD["phone"]}
    assert met["sharing"] == ["email", "phone", "link"]  # Dan never set a default


async def test_a_refused_request_reveals_nothing(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await ann.ok("card:set", CARD)
    await bob.ok("card:set", {"email": "bob@example.org"})
    await bob.ok("people:stay", {"user": ann.user_id})
    await ann.wait("people:asked")
    await ann.ok("people:decline", {"user": bob.user_id})
    listed = await bob.ok("people:list")
    (asking,) = listed["asking"]
    assert asking["card"] is None and asking["sharing"] is None
    assert listed["people"] == []
    # Sharing with somebody not in touch is refused the same way either side, and tells nobody.
    for sharer, other in ((ann, bob), (bob, ann)):
        ack = await sharer.call("card:share", {"user": other.user_id, "fields": ["email"]})
        assert ack["error"] == {
            "code": "not_found",
            "message": "you are not in touch with this person",
        }
    await ann.ok("card:set", {"email": "ann@new.example"})
    await bob.ok("people:list")
    assert not bob.events("card:changed")
    assert (await ann.ok("people:list"))["asked"] == []


async def test_a_contact_removed_or_blocked_sees_the_card_no_more(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    cleo = await connect(server.url, "Cleo")
    await ann.ok("card:set", CARD)
    await in_touch(ann, bob)
    await in_touch(ann, cleo)
    assert await card_seen(bob, ann) == CARD

    await ann.ok("people:remove", {"user": bob.user_id})
    await bob.wait("people:removed")
    assert await card_seen(bob, ann) is None
    ack = await ann.call("card:share", {"user": bob.user_id, "fields": ["email"]})
    assert ack["error"]["code"] == "not_found"
    await ann.ok("card:set", {"phone": "+44 1632 960 001"})
    assert (await cleo.wait("card:changed"))["card"]["phone"] == "+44 1632 960 001"
    await bob.ok("people:list")
    assert not bob.events("card:changed")

    # Ann blocks Cleo: gone from Ann's contacts at once, and Cleo sees Ann's card no more.
    await ann.ok("user:block", {"user": cleo.user_id, "on": True})
    await ann.wait("people:removed", lambda e: e == {"user": cleo.user_id})
    assert await contact(ann, cleo) is None
    assert await card_seen(cleo, ann) is None
    await ann.ok("card:set", {"email": "ann@later.example"})
    await cleo.ok("people:list")
    assert not cleo.events("card:changed")


async def test_card_share_asks_for_a_contact_and_known_fields(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    for payload, code in (
        ({"user": ann.user_id, "fields": []}, "bad_request"),
        ({"user": "u-nobody", "fields": ["email"]}, "not_found"),
        ({"user": "u-x", "fields": ["fax"]}, "bad_request"),
        ({"user": "u-x"}, "bad_request"),
        ({"fields": ["email"]}, "bad_request"),
    ):
        ack = await ann.call("card:share", payload)
        assert ack["ok"] is False and ack["error"]["code"] == code, payload
