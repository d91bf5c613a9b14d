"""The codecs the SFU forwards, and what it reads in their frames.

Frames are forwarded as they are, so a subscriber must take exactly what the publisher sends:
one codec per kind (``CODECS``), negotiated on every m-line (``prefer``).
"""

from __future__ import annotations

from aiortc import RTCRtpSender, RTCRtpTransceiver

CODECS = {"video": "video/VP8", "audio": "audio/opus"}
"""The one codec per kind the SFU negotiates, publishers and subscribers alike."""

PACKET_MAX = 1300
"""Largest RTP payload, as aiortc's own packetizer makes them (``aiortc.codecs.vpx``)."""


def prefer(transceiver: RTCRtpTransceiver) -> None:
    """Restrict ``transceiver`` to the SFU's codec for its kind (and its RTX)."""
    wanted = CODECS[transceiver.kind].lower()
    capabilities = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    transceiver.setCodecPreferences(
        [c for c in capabilities if c.mimeType.lower() in (wanted, f"{transceiver.kind}/rtx")]
    )


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether a subscriber can start decoding at this frame."""
    mime_type = mime_type.lower()
    if mime_type == "video/vp8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame, which also
        # carries the start code 9d 01 2a.
        return len(data) >= 6 and not data[0] & 1 and data[3:6] == b"\x9d\x01\x2a"
    if mime_type == "video/h264":
        # aiortc depayloads to Annex B; an IDR slice (5) or a sequence parameter set (7)
        # starts a decodable picture (RFC 6184 section 1.3).
        return any(nal[0] & 0x1F in (5, 7) for nal in data.split(b"\x00\x00\x01")[1:] if nal)
    return not mime_type.startswith("video/")  # audio frames stand alone


def packetize(mime_type: str, data: bytes, picture_id: int) -> list[bytes]:
    """``data`` as RTP payloads: VP8 split with payload descriptors (RFC 7741), else whole.

    Every VP8 payload has a descriptor with a 15-bit picture id (``X``, ``I`` and ``M`` set,
    as aiortc sends them); the first also has ``S``, the start of partition 0.
    """
    if mime_type.lower() != "video/vp8":
        return [data]
    rest = bytes([0x80, 0x80, 0x80 | (picture_id >> 8) & 0x7F, picture_id & 0xFF])
    first = b"\x90" + rest[1:]
    size = PACKET_MAX - len(rest)
    payloads = [first + data[:size]]
    payloads.extend(rest + data[pos : pos + size] for pos in range(size, len(data), size))
    return payloads
