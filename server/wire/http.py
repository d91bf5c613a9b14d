"""aiohttp's own answers to HTTP it cannot read, with the security headers and nothing echoed.

A request that does not parse (a bad method, an over-long line, a malformed request line or
header) never reaches the application: aiohttp's connection handler (``RequestHandler``)
answers it from ``handle_error``, with the parser's message as the body, which quotes the
bytes it choked on, and without the headers the application adds (``on_response_prepare``
runs only for a request that matched a route). It also logs a traceback for each, at ERROR.

``Handler`` answers instead with ``headers.SECURITY_HEADERS`` and a fixed body
(``400: Bad Request``), and logs a client's broken request as one line at DEBUG (a 5xx, our
own failure, keeps its traceback). ``install`` makes aiohttp's servers build every
connection's handler from it, for the whole process: aiohttp offers an application no way to
choose its connection handler. Both names are private to aiohttp: ``seams`` lists them.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import web, web_protocol, web_server

from ..headers import SECURITY_HEADERS

log = logging.getLogger(__name__)


def answer(status: int) -> web.Response:
    """What a client gets for a request aiohttp could not serve: the status, said plainly."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    response = web.Response(status=status, text=f"{status}: {phrase}", headers=SECURITY_HEADERS)
    response.force_close()
    return response


class Handler(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering errors with ``answer``."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # ``message`` is the parser's, quoting the request: it goes nowhere.
        if status >= 500:
            log.error("Error handling request from %s", request.remote, exc_info=exc)
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(
                "address=%s: a request aiohttp cannot read (%s): answered %d",
                request.remote,
                type(exc).__name__ if exc is not None else "-",
                status,
            )
        if request.writer.output_size > 0:  # as aiohttp: the connection is broken
            raise ConnectionError("a response was already sent: no room for the error's")
        return answer(status)


def install() -> None:
    """aiohttp's servers, from now on, handle each new connection with a ``Handler``."""
    setattr(web_server, "RequestHandler", Handler)  # noqa: B010 - not exported by aiohttp
