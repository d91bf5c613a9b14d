"""What the server takes from a client's SDP: an answer to its offer, and trickled candidates.

aiortc's parser (``aiortc.sdp``) trusts what it reads. A line it cannot read raises whatever
Python raises there (``AssertionError`` for an ``m=`` line, ``AttributeError`` for an
attribute without a value, ``StopIteration`` for an ``fmtp`` of an unknown payload type);
some mistakes get through and fail later, in a task of the peer connection nobody awaits (no
fingerprint, a BUNDLE group led by another mid, a header extension id over 14); and a few
lines cost time quadratic in their number. So what a client sends is checked here first and
refused with a message saying what is wrong (``SignalingError``):

* ``candidate``: one trickled candidate line, by the grammar of RFC 8839 section 5.1 and the
  ranges of RFC 8445 section 5.1.2, for the fields aiortc and aioice read;
* ``answer``: the size of each section, each line that aiortc reads, and the whole against
  the offer it answers (RFC 3264 section 6 and RFC 8829 section 5.3: the offer's m-lines in
  its order, its payload types; ICE credentials, a DTLS fingerprint and role, rtcp-mux).

Only what passes reaches aiortc; what aiortc still raises on it is caught by the session
(``signaling.session``), which closes itself: the client starts again with ``sfu:join``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from aiortc import RTCIceCandidate
from aiortc.sdp import MediaDescription, SessionDescription

from .codecs import CODECS
from .errors import SignalingError, invalid

PARSING = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError)
"""What aiortc's parsers raise on text they cannot read."""

MAX_CANDIDATE = 1024
"""Characters in one candidate line; a browser's longest are about 200."""
MAX_SECTION_LINES = 256
"""Lines before the first m= line, and in each m= section; a browser's answer has about 40."""

DIGEST_ALGORITHMS = ("sha-256", "sha-384", "sha-512")
"""The fingerprint hashes aiortc checks a DTLS certificate with."""
FORBIDDEN_PAYLOAD_TYPES = range(72, 77)
"""Payload types that would clash with RTCP packet types (RFC 5761 section 4)."""
MAX_SSRC = 2**32 - 1

_VCHARS = re.compile(r"[\x21-\x7e]+")
_ICE_CHARS = re.compile(r"[A-Za-z0-9+/]+")
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")  # RFC 8866 section 9
_DIGITS = re.compile(r"[0-9]{1,10}")
_MDNS_NAME = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+local")
_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029]")
"""Control characters but CR and LF, and what ``str.splitlines`` also takes as line ends."""


def _number(text: str, low: int, high: int) -> int | None:
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _address(text: str) -> bool:
    """An IP address, or an mDNS name (draft-ietf-mmusic-mdns-ice-candidates section 3.1)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return len(text) <= 253 and _MDNS_NAME.fullmatch(text) is not None
    return True


# -- candidates ----------------------------------------------------------------------------------

_TYPES = ("host", "srflx", "prflx", "relay")
_TRANSPORTS = ("udp", "tcp")  # RFC 8839 section 5.1; TCP candidates: RFC 6544 section 4.5
_TCP_TYPES = ("active", "passive", "so")


def candidate(line: str) -> RTCIceCandidate:
    """The candidate of an ``a=candidate`` value (without ``candidate:``), or refuse it."""

    def refuse(what: str) -> SignalingError:
        return invalid(f"candidate: {what}")

    if len(line) > MAX_CANDIDATE:
        raise refuse(f"longer than {MAX_CANDIDATE} characters")
    if not all(_VCHARS.fullmatch(bit) for bit in line.split(" ") if bit):
        raise refuse("only printable ASCII characters and spaces")
    bits = line.split()
    if len(bits) < 8 or bits[6] != "typ":
        raise refuse(
            "expected <foundation> <component> <transport> <priority> <address> <port> typ <type>"
        )
    foundation, component, transport, priority, address, port, _, kind = bits[:8]
    if len(foundation) > 32 or not _ICE_CHARS.fullmatch(foundation):
        raise refuse("the foundation must be 1 to 32 letters, digits, + or /")
    component_id = _number(component, 1, 256)
    if component_id is None:
        raise refuse("the component must be a number from 1 to 256")
    protocol = transport.lower()
    if protocol not in _TRANSPORTS:
        raise refuse("the transport must be UDP or TCP")
    priority_value = _number(priority, 1, 2**31 - 1)
    if priority_value is None:
        raise refuse("the priority must be a number from 1 to 2147483647")
    if not _address(address):
        raise refuse("the address must be an IP address or an mDNS name (.local)")
    port_value = _number(port, 1 if protocol == "udp" else 0, 65535)
    if port_value is None:
        raise refuse("the port must be a number from 1 to 65535 (0 for TCP active)")
    if kind not in _TYPES:
        raise refuse("the type must be host, srflx, prflx or relay")
    found = RTCIceCandidate(
        component=component_id,
        foundation=foundation,
        ip=address,
        port=port_value,
        priority=priority_value,
        protocol=protocol,
        type=kind,
    )
    rest = bits[8:]
    if len(rest) % 2:
        raise refuse("every extension after the type needs a name and a value")
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if not _TOKEN.fullmatch(name):
            raise refuse(f"{name!r} is not an extension name")
        if name == "raddr":
            if not _address(value):
                raise refuse("raddr must be an IP address or an mDNS name (.local)")
            found.relatedAddress = value
        elif name == "rport":
            related = _number(value, 0, 65535)
            if related is None:
                raise refuse("rport must be a number from 0 to 65535")
            found.relatedPort = related
        elif name == "tcptype":
            if value not in _TCP_TYPES:
                raise refuse("tcptype must be active, passive or so")
            found.tcpType = value
        elif name == "generation" and _number(value, 0, MAX_SSRC) is None:
            raise refuse("generation must be a number")
    return found


# -- answers -------------------------------------------------------------------------------------


def _fmt(value: str) -> bool:
    pt = _number(value, 0, 127)
    return pt is not None and pt not in FORBIDDEN_PAYLOAD_TYPES


def _ip(value: str) -> bool:
    """``<nettype> <addrtype> <address>`` as aiortc reads it: IN, IP4 or IP6, an IP address."""
    bits = value.split(" ")
    if len(bits) != 3 or bits[0] != "IN" or bits[1] not in ("IP4", "IP6"):
        return False
    try:
        ipaddress.ip_address(bits[2])
    except ValueError:
        return False
    return True


def _media(value: str) -> bool:
    """``<media> <port> <proto> <fmt> ...`` (RFC 8866 section 5.14, without the number of
    ports aiortc does not read)."""
    bits = value.split(" ")
    if len(bits) < 4 or not _TOKEN.fullmatch(bits[0]) or not re.fullmatch(r"[A-Z/]+", bits[2]):
        return False
    if _number(bits[1], 0, 65535) is None:
        return False
    return bits[0] not in ("audio", "video") or all(_fmt(pt) for pt in bits[3:])


def _extmap(value: str) -> bool:
    # aiortc reads exactly two fields; ids 1 to 14, as the SFU writes one-byte header
    # extensions (RFC 8285 section 4.2).
    bits = value.split(" ")
    if len(bits) != 2 or not bits[1]:
        return False
    ext_id, _, direction = bits[0].partition("/")
    if direction and direction not in ("sendonly", "recvonly", "sendrecv", "inactive"):
        return False
    return _number(ext_id, 1, 14) is not None


def _fingerprint(value: str) -> bool:
    bits = value.split(" ")
    return (
        len(bits) == 2
        and _TOKEN.fullmatch(bits[0]) is not None
        and re.fullmatch(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+", bits[1]) is not None
    )


def _rtpmap(value: str) -> bool:
    # <payload type> <encoding name>/<clock rate>[/<channels>] (RFC 8866 section 6.6)
    match = re.fullmatch(
        r"([0-9]{1,3}) ([!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+)/([0-9]{1,7})(?:/([0-9]{1,2}))?", value
    )
    return match is not None and _fmt(match[1])


_INT_PARAMETERS = (
    "apt",
    "max-fr",
    "max-fs",
    "maxplaybackrate",
    "minptime",
    "stereo",
    "useinbandfec",
)
"""The fmtp parameters aiortc reads as integers (``aiortc.sdp.FMTP_INT_PARAMETERS``)."""


def _fmtp(value: str) -> bool:
    pt, _, parameters = value.partition(" ")
    if not _fmt(pt) or not parameters:
        return False
    for parameter in parameters.split(";"):
        name, equals, setting = parameter.partition("=")
        if equals and name in _INT_PARAMETERS and _number(setting, 0, 2**31 - 1) is None:
            return False
    return True


def _rtcp(value: str) -> bool:
    port, _, address = value.partition(" ")
    return _number(port, 0, 65535) is not None and (not address or _ip(address))


def _ssrc(value: str) -> bool:
    ssrc, _, rest = value.partition(" ")
    return _number(ssrc, 0, MAX_SSRC) is not None and ":" in rest


def _ssrc_group(value: str) -> bool:
    semantics, *ssrcs = value.split() or [""]
    return _TOKEN.fullmatch(semantics) is not None and all(
        _number(ssrc, 0, MAX_SSRC) is not None for ssrc in ssrcs
    )


_ATTRIBUTES: dict[str, Callable[[str], bool]] = {
    "extmap": _extmap,
    "fingerprint": _fingerprint,
    "ice-ufrag": lambda v: 4 <= len(v) <= 256 and _ICE_CHARS.fullmatch(v) is not None,
    "ice-pwd": lambda v: 22 <= len(v) <= 256 and _ICE_CHARS.fullmatch(v) is not None,
    "max-message-size": lambda v: _number(v, 0, 2**32) is not None,
    "mid": lambda v: len(v) <= 16 and _TOKEN.fullmatch(v) is not None,
    "rtcp": _rtcp,
    "setup": lambda v: v in ("active", "passive"),
    "rtpmap": _rtpmap,
    "fmtp": _fmtp,
    "rtcp-fb": lambda v: re.fullmatch(r"(?:\*|[0-9]{1,3}) \S+(?: .*)?", v) is not None,
    "sctpmap": lambda v: re.fullmatch(r"[0-9]{1,5} .+", v) is not None,
    "sctp-port": lambda v: _number(v, 0, 65535) is not None,
    "ssrc": _ssrc,
    "ssrc-group": _ssrc_group,
}
"""Each attribute aiortc reads a value of, and whether a value is one it reads safely."""

_LINES: dict[str, Callable[[str], bool]] = {
    "v": lambda v: v == "0",
    "c": _ip,
    "m": _media,
}


def _check_line(number: int, line: str) -> None:
    kind, equals, value = line[:1], line[1:2], line[2:]
    if equals != "=" or not "a" <= kind <= "z":
        raise invalid(f"answer: line {number} is not <type>=<value>")
    if kind == "a":
        name, colon, value = value.partition(":")
        if name == "candidate":
            try:
                candidate(value)
            except SignalingError as exc:
                what = exc.message.removeprefix("candidate: ")
                raise invalid(f"answer: line {number} (a=candidate): {what}") from None
        check = _ATTRIBUTES.get(name)
        if check is not None and (not colon or not check(value)):
            raise invalid(f"answer: line {number} (a={name}) does not parse")
    elif kind in _LINES and not _LINES[kind](value):
        raise invalid(f"answer: line {number} ({kind}=) does not parse")


def _codecs(lines: list[str]) -> dict[int, str]:
    """A section's codecs by payload type: ``<name>/<clock rate>[/<channels>]``, lower case."""
    codecs: dict[int, str] = {}
    for line in lines:
        if line.startswith("a=rtpmap:"):
            pt, _, name = line[len("a=rtpmap:") :].partition(" ")
            codecs[int(pt)] = name.lower()
    return codecs


def _sections(sdp: str) -> list[list[str]]:
    """The session section and each m= section, as lists of lines (blank lines left out)."""
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        if line:
            sections[-1].append(line)
    return sections


def answer(sdp: str, offer: str) -> None:
    """Refuse ``sdp`` unless it is an answer to ``offer`` that aiortc can read and apply."""
    if _CONTROL.search(sdp):
        raise invalid("answer: control characters other than CR and LF")
    sections = _sections(sdp)
    offered = _sections(offer)
    if len(sections) != len(offered):
        raise invalid(f"answer: {len(sections) - 1} m= lines, the offer has {len(offered) - 1}")
    number = 0
    for section in sections:
        if len(section) > MAX_SECTION_LINES:
            raise invalid(f"answer: more than {MAX_SECTION_LINES} lines in one section")
        for line in section:
            number += 1
            _check_line(number, line)
        # aiortc looks each fmtp's codec up among its section's rtpmaps, and fails without one.
        mapped = _codecs(section)
        for line in section:
            pt = int(line[7:].partition(" ")[0]) if line.startswith("a=fmtp:") else None
            if pt is not None and pt not in mapped:
                raise invalid(f"answer: an a=fmtp of payload type {pt}, which has no a=rtpmap")
    try:
        parsed = SessionDescription.parse(sdp)
    except (*PARSING, StopIteration):
        raise invalid("answer: does not parse") from None
    expected = SessionDescription.parse(offer)
    if [(m.kind, m.rtp.muxId) for m in parsed.media] != [
        (m.kind, m.rtp.muxId) for m in expected.media
    ]:
        raise invalid("answer: its m= lines must be the offer's, with their mids, in order")
    for index, (media, mine, theirs) in enumerate(
        zip(parsed.media, offered[1:], sections[1:], strict=True), start=1
    ):
        _check_media(index, media, _codecs(mine), theirs)
    first = expected.media[0].rtp.muxId if expected.media else None
    mids = {m.rtp.muxId for m in expected.media}
    for group in parsed.group:
        items = [str(item) for item in group.items]
        if group.semantic == "BUNDLE" and items and (items[0] != first or not set(items) <= mids):
            raise invalid(f"answer: the BUNDLE group must be the offer's mids, led by {first}")


def _check_media(
    index: int, media: MediaDescription, offered: dict[int, str], lines: list[str]
) -> None:
    def refuse(what: str) -> SignalingError:
        return invalid(f"answer: m= line {index} ({media.kind}) {what}")

    if not media.ice or not media.ice.usernameFragment or not media.ice.password:
        raise refuse("has no ice-ufrag and ice-pwd")
    if media.dtls is None or media.dtls.role not in ("client", "server"):
        raise refuse("has no setup active or passive")
    if not any(f.algorithm.lower() in DIGEST_ALGORITHMS for f in media.dtls.fingerprints):
        raise refuse("has no fingerprint of sha-256, sha-384 or sha-512")
    if not media.rtcp_mux:
        raise refuse("has no rtcp-mux")
    formats = set(media.fmt)
    answered = _codecs(lines)
    for pt, name in answered.items():
        if offered.get(pt) != name:
            raise refuse(f"answers payload type {pt} with {name}, which the offer does not have")
        if pt not in formats:
            raise refuse(f"has an rtpmap of payload type {pt}, which is not on the m= line")
    if not formats <= set(offered) or not formats:
        raise refuse("has payload types the offer does not have")
    wanted = CODECS.get(media.kind, "").lower().partition("/")[2]
    if not any(name.partition("/")[0] == wanted for name in answered.values()):
        raise refuse(f"does not take {CODECS.get(media.kind, 'its codec')}")
