"""The packet path: a subscriber's RTP packets written by the SFU, not by aiortc's sender.

aiortc's ``RTCRtpSender`` spends about 100 us of Python on every packet it sends (an
``RtpPacket`` object, its header extensions, ``serialize``, then four coroutine layers down to
``sendto``), once per packet *per subscriber*. A forwarding server does not need any of it per
subscriber: a ``Publication`` packetizes each frame once, and ``PacketWriter`` only puts a
12-byte header and the header extensions in front of each payload (this subscriber's SSRC,
payload type, sequence number, timestamp, mid and the extension ids negotiated on its
connection), encrypts it with the connection's SRTP session and hands it to the UDP socket of
the nominated ICE pair (RFC 3550 section 5.1, RFC 8285 section 4.2). The sender stays: it
negotiated the m-line and still runs its RTCP (sender reports, PLI/FIR, NACK); its own RTP loop
waits on a track that never yields. What the writer needs of aiortc for that comes through
``signaling.transport.Outbound``.
"""

from __future__ import annotations

import enum
import secrets
import struct
from collections.abc import Callable, Sequence

from aiortc import RTCPeerConnection, RTCRtpTransceiver

from .transport import Negotiated, Outbound, ntp_now

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
BACKLOG_BYTES = 256 * 1024
"""Bytes waiting in a subscriber's socket buffer beyond which it has fallen behind, by
default (``SFU_BACKLOG_KIB``)."""
HISTORY = 128
"""Packets kept to answer NACKs, as many as aiortc's sender keeps (``aiortc.rtp``)."""

_HEADER = struct.Struct("!BBHII")


class Written(enum.Enum):
    """What became of a frame given to ``PacketWriter.write``."""

    SENT = "sent"
    DOWN = "down"
    """Not sent: the connection is not up (or not negotiated yet)."""
    BEHIND = "behind"
    """Not sent: the subscriber has too much unsent already."""


class PacketWriter:
    """Writes one subscriber's RTP stream on a new sent m-line of ``pc``, as its sender would.

    Sequence numbers and timestamps start at random values and only go forward; the caller
    gives timestamps on its own timeline (``write``), in the codec's clock units.
    """

    def __init__(
        self,
        pc: RTCPeerConnection,
        kind: str,
        *,
        on_ready: Callable[[], None],
        on_keyframe_request: Callable[[], None],
        backlog: int = BACKLOG_BYTES,
    ) -> None:
        self.backlog = backlog
        """Bytes unsent in the socket beyond which the subscriber has fallen behind."""
        self.packets = 0
        self.octets = 0
        self._payload_type: int | None = None
        self._sequence = secrets.randbits(16)
        self._origin = secrets.randbits(32)
        self._extension_head = b""
        self._extension_tail = b""
        self._abs_send_time = False
        self._history: list[bytes | None] = [None] * HISTORY
        self.outbound = Outbound(
            pc,
            kind,
            on_negotiated=self._configure,
            on_ready=on_ready,
            on_nack=self.retransmit,
            on_keyframe_request=on_keyframe_request,
        )
        self._ssrc = self.outbound.ssrc

    def __repr__(self) -> str:
        return f"PacketWriter(ssrc={self._ssrc} pt={self._payload_type})"

    @property
    def transceiver(self) -> RTCRtpTransceiver:
        return self.outbound.transceiver

    def _configure(self, negotiated: Negotiated) -> None:
        """Take the payload type, the mid and the extension ids negotiated for the m-line."""
        self._payload_type = negotiated.payload_type
        ids = negotiated.extensions
        # RFC 8285 one-byte elements: (id << 4 | length - 1), then the value.
        elements = b""
        mid = negotiated.mid.encode()
        if MID in ids and 0 < len(mid) <= 16:
            elements += bytes([ids[MID] << 4 | (len(mid) - 1)]) + mid
        if ABS_SEND_TIME in ids:
            elements += bytes([ids[ABS_SEND_TIME] << 4 | 2])
            self._abs_send_time = True
        length = len(elements) + 3 * self._abs_send_time
        if length:
            padding = -length % 4
            words = (length + padding) // 4
            self._extension_head = struct.pack("!HH", 0xBEDE, words) + elements
            self._extension_tail = bytes(padding)

    @property
    def connected(self) -> bool:
        """Negotiated, and the connection's DTLS is up: packets written now are sent."""
        return self._payload_type is not None and self.outbound.connected

    def write(self, payloads: Sequence[bytes], timestamp: int, ntp: int | None = None) -> Written:
        """Send one frame's ``payloads`` at ``timestamp``: ``SENT``, or why not.

        ``BEHIND``: the subscriber's socket holds more than ``backlog`` bytes unsent, and the
        frame was not sent (the caller drops frames until a keyframe).

        ``ntp`` is the frame's arrival as an NTP timestamp (``transport.ntp_now``), shared by
        every subscriber of the frame; the current time by default.
        """
        if self._payload_type is None:
            return Written.DOWN
        route = self.outbound.route()
        if route is None:
            return Written.DOWN
        protect, sendto, address, buffered = route
        if buffered > self.backlog:
            return Written.BEHIND
        if ntp is None:
            ntp = ntp_now()
        extensions = self._extension_head
        if self._abs_send_time:
            extensions += ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
        extensions += self._extension_tail
        first = 0x90 if extensions else 0x80
        timestamp = (self._origin + timestamp) & 0xFFFFFFFF
        ssrc, history, pack = self._ssrc, self._history, _HEADER.pack
        sequence = self._sequence
        last = len(payloads) - 1
        octets = 0
        for index, payload in enumerate(payloads):
            second = self._payload_type | 0x80 if index == last else self._payload_type
            data = protect(pack(first, second, sequence, timestamp, ssrc) + extensions + payload)
            sendto(data, address)
            history[sequence % HISTORY] = data
            octets += len(payload)
            sequence = (sequence + 1) & 0xFFFF
        self._sequence = sequence
        self.packets += len(payloads)
        self.octets += octets
        self.outbound.report(ntp, timestamp, self.packets, self.octets)
        return Written.SENT

    def retransmit(self, sequence_number: int) -> None:
        """Send again a packet the subscriber reported lost (NACK), if it is still kept.

        The stored packet is already encrypted: resending it as it was is what the receiver
        missed (an RTP header is not encrypted, so its sequence number can be checked).
        """
        data = self._history[sequence_number % HISTORY]
        if data is None or int.from_bytes(data[2:4], "big") != sequence_number:
            return
        route = self.outbound.route()
        if route is not None:
            route[1](data, route[2])

    def stop(self) -> None:
        self.outbound.stop()
