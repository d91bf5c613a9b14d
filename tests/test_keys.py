"""Secrets (server/keys.py): tokens and ids are never handed out twice, whoever asks."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from server import keys


def test_tokens_taken_from_many_threads_at_once_are_all_different() -> None:
    def take(_: int) -> list[str]:
        return [keys.new_token() for _ in range(2000)]

    with ThreadPoolExecutor(8) as pool:
        tokens = [token for batch in pool.map(take, range(8)) for token in batch]
    assert len(set(tokens)) == len(tokens) == 16000
    # 256 bits each, url-safe base64 without padding, as secrets.token_urlsafe(32) gives.
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens)


def test_ids_longer_than_the_pool_still_come_whole() -> None:
    assert len(keys.random_bytes(10_000)) == 10_000
    assert keys.new_id("r", 16).startswith("r") and len(keys.new_id("r", 16)) == 23
