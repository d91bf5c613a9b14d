"""Search every room a user may read, with real clients, on SQLite and PostgreSQL: grouped by
room, each operator, bad dates, deleted messages, private rooms and DMs kept to their people,
and a result opened at its message (``chat:history`` around it)."""

from __future__ import annotations

import datetime
import sqlite3
from typing import Any

import pytest

from .support.client import Client
from .support.servers import Running


@pytest.fixture
def server(archived_server: Running) -> Running:
    return archived_server  # each test on SQLite, then PostgreSQL


@pytest.fixture
def backend() -> str:
    return "memory"  # presence does not matter here; the archive does


async def say(client: Client, room: str, text: str) -> dict[str, Any]:
    ack = await client.ok(
        "chat:send", {"room": room, "text": text, "client_msg_id": f"{room}-{text}"}
    )
    return dict(ack["message"])


async def room(client: Client, title: str, **fields: Any) -> str:
    created = await client.ok("room:create", {"title": title, "kind": "open", **fields})
    room_id = str(created["room"]["id"])
    await client.ok("room:join", {"room": room_id})
    return room_id


async def search(client: Client, query: str, **fields: Any) -> list[dict[str, Any]]:
    return list((await client.ok("search", {"query": query, **fields}))["results"])


def texts(results: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {group["room"]["title"]: [m["text"] for m in group["messages"]] for group in results}


async def test_one_search_finds_a_word_in_two_rooms_grouped_best_first(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    garden = await room(ann, "Garden")
    kitchen = await room(ann, "Kitchen")
    await say(ann, garden, "tomatoes need sun")
    await say(ann, garden, "nothing to see")
    await say(ann, kitchen, "tomatoes tomatoes tomatoes soup")
    await say(ann, kitchen, "tomatoes again")
    results = await search(ann, "tomatoes")
    # The kitchen holds the best match, so it comes first; each group ranked within.
    assert [g["room"] for g in results] == [
        {"id": kitchen, "title": "Kitchen", "kind": "open"},
        {"id": garden, "title": "Garden", "kind": "open"},
    ]
    assert texts(results) == {
        "Kitchen": ["tomatoes tomatoes tomatoes soup", "tomatoes again"],
        "Garden": ["tomatoes need sun"],
    }
    # Anybody finds what is said in public rooms, without having joined them.
    bob = await connect(server.url, "Bob")
    assert set(texts(await search(bob, "tomato"))) == {"Kitchen", "Garden"}
    # The limit counts messages, in all groups together.
    assert sum(len(g["messages"]) for g in await search(bob, "tomatoes", limit=2)) == 2


async def test_a_private_room_is_searched_only_by_who_joined_it(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    carol = await connect(server.url, "Carol")
    secret = await room(ann, "Secret", private=True)
    await say(ann, secret, "the password is swordfish")
    assert texts(await search(ann, "swordfish")) == {"Secret": ["the password is swordfish"]}
    assert await search(bob, "swordfish") == []  # never joined: never searched
    await bob.ok("room:join", {"room": secret})
    await bob.ok("room:leave", {"room": secret})
    # Once joined, for good (as a member who left may still come back to read).
    assert texts(await search(bob, "swordfish")) == {"Secret": ["the password is swordfish"]}
    assert await search(carol, "in:Secret") == []


async def test_a_dm_is_found_only_by_its_two_users(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    carol = await connect(server.url, "Carol")
    dm = (await ann.ok("dm:open", {"user": bob.user_id}))["room"]["id"]
    await ann.ok("room:join", {"room": dm})
    await say(ann, dm, "lunch on friday?")
    for who, other in ((ann, "Bob"), (bob, "Ann")):
        [group] = await search(who, "lunch")
        # A DM's group is titled with the other user's name.
        assert group["room"] == {"id": dm, "title": other, "kind": "dm"}
    assert await search(carol, "lunch") == []


async def test_each_operator_narrows_the_search(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    garden = await room(ann, "Garden")
    await bob.ok("room:join", {"room": garden})
    await say(ann, garden, "plans for spring https://example.org/plan")
    await say(bob, garden, "plans are fine")
    await bob.ok("room:join", {"room": "lobby"})
    await say(bob, "lobby", "plans in the lobby")
    workshop = await ann.ok("room:create", {"title": "Talk", "kind": "workshop"})
    talk, key = workshop["room"]["id"], workshop["host_key"]
    await ann.ok("room:join", {"room": talk, "host_key": key})
    pin = await say(ann, talk, "read the plans first")
    await ann.ok("chat:pin", {"room": talk, "seq": pin["seq"], "on": True})

    assert texts(await search(bob, "plans from:ann")) == {
        "Talk": ["read the plans first"],
        "Garden": ["plans for spring https://example.org/plan"],
    }
    assert texts(await search(ann, f"plans from:{bob.user_id}")) == {
        "Garden": ["plans are fine"],
        "Lobby": ["plans in the lobby"],
    }
    assert texts(await search(ann, "plans in:garden")) == {
        "Garden": ["plans are fine", "plans for spring https://example.org/plan"],
    }
    assert texts(await search(ann, "in:lobby plans")) == {"Lobby": ["plans in the lobby"]}
    assert texts(await search(ann, "has:link")) == {
        "Garden": ["plans for spring https://example.org/plan"]
    }
    assert texts(await search(ann, "plans has:link")) == {
        "Garden": ["plans for spring https://example.org/plan"]
    }
    assert texts(await search(ann, "is:pinned")) == {"Talk": ["read the plans first"]}
    assert texts(await search(ann, 'from:Bob in:"Garden"')) == {"Garden": ["plans are fine"]}
    today = datetime.datetime.now(datetime.UTC).date()
    yesterday, tomorrow = today - datetime.timedelta(days=1), today + datetime.timedelta(days=1)
    assert len(texts(await search(ann, f"plans on:{today}"))) == 3
    assert len(texts(await search(ann, f"plans after:{yesterday} before:{tomorrow}"))) == 3
    assert await search(ann, f"plans before:{today}") == []
    assert await search(ann, f"plans after:{today}") == []
    # A word that only looks like an operator is searched as words.
    await say(ann, garden, "note:remember")
    assert texts(await search(ann, "note:remember")) == {"Garden": ["note:remember"]}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("plans before:2026-13-01", "before: expected a date like 2026-12-07"),
        ("after:yesterday", "after: expected a date like 2026-12-07"),
        ("on:2026-02-30", "on: expected a date like 2026-12-07"),
        ("on:", "on: expected a date like 2026-12-07"),
        ("from:", "from: expected a name or user id"),
        ("in:", "in: expected a room id or title"),
        ("has:images", "has: expected link"),
        ("is:starred", "is: expected pinned"),
    ],
)
async def test_a_bad_operator_is_refused_clearly(
    server: Running, connect, query: str, message: str
) -> None:
    ann = await connect(server.url, "Ann")
    ack = await ann.call("search", {"query": query})
    assert ack == {"ok": False, "error": {"code": "bad_request", "message": message}}


async def test_a_deleted_message_is_never_found(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    await ann.ok("room:join", {"room": "lobby"})
    gone = await say(ann, "lobby", "a secret recipe")
    await say(ann, "lobby", "a recipe anyone may read")
    await ann.ok("chat:delete", {"room": "lobby", "seq": gone["seq"]})
    assert texts(await search(ann, "recipe")) == {"Lobby": ["a recipe anyone may read"]}
    assert texts(await search(ann, "from:Ann")) == {"Lobby": ["a recipe anyone may read"]}
    assert await search(ann, "secr") == []
    if server.settings.database_url is None:
        # Nor is any word of it left in the words that prefixes become.
        with sqlite3.connect(server.settings.data_dir / "percolate.db") as db:
            words = {word for (word,) in db.execute("SELECT word FROM words")}
        assert "recipe" in words and "secret" not in words


async def test_a_half_typed_last_word_or_a_starred_word_finds_the_words_it_begins(
    server: Running, connect
) -> None:
    ann = await connect(server.url, "Ann")
    garden = await room(ann, "Garden")
    await say(ann, garden, "accountants wanted for spring")
    await say(ann, garden, "an account of the harvest")
    await say(ann, garden, "accurate weather")
    assert texts(await search(ann, "spring accountant")) == {
        "Garden": ["accountants wanted for spring"]
    }
    # Any other word is a whole word, unless starred.
    assert await search(ann, "accountant spring") == []
    assert texts(await search(ann, "accountant* spring")) == {
        "Garden": ["accountants wanted for spring"]
    }
    assert len(texts(await search(ann, "acc"))["Garden"]) == 3
    assert texts(await search(ann, "acc* weather")) == {"Garden": ["accurate weather"]}
    assert await search(ann, "accz") == []


async def test_the_messages_of_somebody_blocked_are_not_found(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    bob = await connect(server.url, "Bob")
    await bob.ok("room:join", {"room": "lobby"})
    await say(bob, "lobby", "buy my courses")
    assert texts(await search(ann, "courses")) == {"Lobby": ["buy my courses"]}
    await ann.ok("user:block", {"user": bob.user_id, "on": True})
    assert await search(ann, "courses") == []


async def test_a_result_opens_its_room_at_the_message(server: Running, connect) -> None:
    ann = await connect(server.url, "Ann")
    garden = await room(ann, "Garden")
    for i in range(1, 31):
        await say(ann, garden, "the needle" if i == 12 else f"hay {i}")
    [group] = await search(ann, "needle")
    [found] = group["messages"]
    page = await ann.ok("chat:history", {"room": garden, "around": found["seq"], "limit": 6})
    assert [m["seq"] for m in page["messages"]] == [9, 10, 11, 12, 13, 14]
    ack = await ann.call("chat:history", {"room": garden, "around": 3, "before": 5})
    assert ack["error"]["message"] == "give one of before, after and around"
