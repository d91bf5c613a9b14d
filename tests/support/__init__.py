"""What the tests run against and talk with: Percolate servers, redis-server and PostgreSQL in
processes of their own, and clients (python-socketio, a raw WebSocket member, aiortc peers).

``tests/conftest.py`` turns these pieces into fixtures. Only ``services`` imports pytest (to fail a
test whose system lacks redis-server or PostgreSQL), so ``python -m tests.browser.screenshots``
can start a server with ``servers`` and ``ports`` alone.
"""

from __future__ import annotations

WAIT = 10.0  # seconds any single expected event may take before a test fails
