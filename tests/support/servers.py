"""Percolate under test: in the test's own event loop (``Running``, aiohttp's test server) or as
``python -m server`` in a process of its own (``Process``, as an operator runs it)."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from server.config import Settings

from . import WAIT


@dataclasses.dataclass
class Running:
    server: TestServer
    settings: Settings

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    async def close(self) -> None:
        await self.server.close()


ROOT = Path(__file__).resolve().parents[2]  # the repository: python -m server runs from there


class Process:
    """``python -m server`` in a process of its own; its output goes to a file (a pipe
    nobody reads would fill up and stall a chatty server)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *self.args,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        await self.wait_ready()

    async def wait_ready(self) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(int(WAIT / 0.05)):
                try:
                    async with http.get(self.url + "healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                if self.proc is None or self.proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)  # polling a process that is starting up
        raise AssertionError(f"server did not start:\n{self.output}")

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def finish(self) -> str:
        """Wait for the process to end (after a signal); its whole output."""
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), WAIT)
        return self.output

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM, as an operator would; SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), WAIT)
        except TimeoutError:
            await self.kill()
