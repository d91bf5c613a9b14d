"""The security headers every HTTP response carries (docs/security.md, "HTTP security headers").

One set for the whole server: ``api`` adds it to every response of the application (with the
configured media origins in ``connect-src``), ``wire.http`` to the answers aiohttp makes
itself to requests it cannot read.
"""

from __future__ import annotations

# The client is one bundle from this origin: nothing inline, no other origin, no framing.
# Media from the camera and peers arrive as MediaStreams, which media-src does not govern.
# The one exception: connect-src also names the configured CORS_ORIGINS, which is how a
# scaled-out deployment lists the other processes' MEDIA_URLs a page may open its media
# connection to (docs/deployment.md).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src {connect}; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP.format(connect="'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}
"""The headers, with ``connect-src 'self'``."""


def connect_sources(origins: tuple[str, ...]) -> str:
    """``'self'`` and each origin over HTTP(S) and its WebSocket scheme."""
    sources = ["'self'"]
    for origin in origins:
        origin = origin.rstrip("/")
        sources.append(origin)
        for http, ws in (("https://", "wss://"), ("http://", "ws://")):
            if origin.startswith(http):
                sources.append(ws + origin.removeprefix(http))
    return " ".join(sources)


def security_headers(origins: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers, with ``origins`` (``CORS_ORIGINS``) also allowed in ``connect-src``."""
    headers = dict(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = CSP.format(connect=connect_sources(origins))
    return headers
