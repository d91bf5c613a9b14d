"""The packet path: a subscriber's RTP packets written by the SFU, not by aiortc's sender.

aiortc's ``RTCRtpSender`` spends about 100 us of Python on every packet it sends (an
``RtpPacket`` object, its header extensions, ``serialize``, then four coroutine layers down to
``sendto``), once per packet *per subscriber*. A forwarding server does not need any of it per
subscriber: ``Publication`` packetizes each frame once, and ``PacketWriter`` only puts a
12-byte header and the header extensions in front of each payload (this subscriber's SSRC,
payload type, sequence number, timestamp, mid and the extension ids negotiated on its
connection), encrypts it with the connection's SRTP session and hands it to the UDP socket of
the nominated ICE pair. The sender stays: it negotiated the m-line and still runs its RTCP
(sender reports, PLI/FIR, NACK); its own RTP loop waits on a track that never yields.

Private seams (aiortc 1.16, aioice 0.12-0.13), all checked by ``check`` when a writer is made and
by ``tests/test_sfu.py``:

* ``RTCRtpSender.send(parameters)`` is wrapped on the instance to learn the negotiated
  parameters, and ``RTCRtpSender._retransmit(sequence_number)`` to answer a NACK from the
  writer's own history; ``RTCRtpSender._ssrc`` is the SSRC the SDP announced.
* ``RTCRtpSender.__ntp_timestamp``, ``__rtp_timestamp``, ``__packet_count`` and
  ``__octet_count`` are what the sender's RTCP loop puts in its sender reports (the
  subscriber's lip sync and statistics), so the writer keeps them current, once per frame.
* ``RTCDtlsTransport._state`` and ``._tx_srtp`` (the outgoing SRTP session, which accepts any
  SSRC); ``RTCIceTransport._connection`` (aioice's ``Connection``) and its ``_nominated[1]``
  pair, whose ``protocol.transport`` is the UDP socket and ``remote_addr`` the peer.
"""

from __future__ import annotations

import enum
import inspect
import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

from aioice.ice import Connection, StunProtocol
from aiortc import RTCDtlsTransport, RTCIceTransport, RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE
from aiortc.utils import random32

log = logging.getLogger(__name__)

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
BACKLOG_BYTES = 256 * 1024
"""Bytes waiting in a subscriber's socket buffer beyond which it has fallen behind, by
default (``SFU_BACKLOG_KIB``)."""

_HEADER = struct.Struct("!BBHII")
_SENDER_FIELDS = ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count")


class Written(enum.Enum):
    """What became of a frame given to ``PacketWriter.write``."""

    SENT = "sent"
    DOWN = "down"
    """Not sent: the connection is not up (or not negotiated yet)."""
    BEHIND = "behind"
    """Not sent: the subscriber has too much unsent already."""


def check(sender: RTCRtpSender) -> None:
    """Raise ``RuntimeError`` unless ``sender`` and aiortc still have what the writer uses."""
    problems = []
    if not isinstance(getattr(sender, "_ssrc", None), int):
        problems.append("RTCRtpSender._ssrc")
    for field in _SENDER_FIELDS:
        if not isinstance(getattr(sender, f"_RTCRtpSender__{field}", None), int):
            problems.append(f"RTCRtpSender.__{field}")
    retransmit = getattr(RTCRtpSender, "_retransmit", None)
    if not (
        inspect.iscoroutinefunction(retransmit)
        and list(inspect.signature(retransmit).parameters) == ["self", "sequence_number"]
    ):
        problems.append("RTCRtpSender._retransmit(self, sequence_number) coroutine")
    rtcp = inspect.getsource(RTCRtpSender._run_rtcp)
    if not all(f"self.__{field}" in rtcp for field in _SENDER_FIELDS):
        problems.append("RTCRtpSender._run_rtcp reports the sender's counters")
    dtls = inspect.getsource(RTCDtlsTransport._send_rtp)
    if "self._tx_srtp.protect(data)" not in dtls or "self._state != State.CONNECTED" not in dtls:
        problems.append("RTCDtlsTransport._send_rtp protects with _tx_srtp when CONNECTED")
    if "self._connection = gatherer._connection" not in inspect.getsource(RTCIceTransport):
        problems.append("RTCIceTransport._connection is aioice's Connection")
    sendto = inspect.getsource(Connection.sendto)
    if not all(
        part in sendto
        for part in ("self._nominated.get(component)", "protocol.send_data", "remote_addr")
    ):
        problems.append("aioice Connection._nominated[component] pairs: protocol, remote_addr")
    if "self.transport.sendto(data, addr)" not in inspect.getsource(StunProtocol.send_data):
        problems.append("aioice StunProtocol.transport is the UDP socket")
    if problems:
        raise RuntimeError(f"aiortc lacks what the SFU's packet path relies on: {problems}")


def _socket(dtls: RTCDtlsTransport) -> tuple[Any, Any] | None:
    """The nominated pair's (UDP transport, remote address), or None while there is none."""
    connection = getattr(dtls.transport, "_connection", None)
    pair = connection._nominated.get(1) if connection is not None else None
    if pair is None:
        return None
    transport = pair.protocol.transport
    if transport is None or transport.is_closing():
        return None
    return transport, pair.remote_addr


class PacketWriter:
    """Writes one subscriber's RTP stream on ``sender``'s connection, as ``sender`` would.

    Sequence numbers and timestamps start at random values and only go forward; the caller
    gives timestamps on its own timeline (``write``), in the codec's clock units.
    """

    def __init__(
        self, sender: RTCRtpSender, *, on_ready: Callable[[], None], backlog: int = BACKLOG_BYTES
    ) -> None:
        check(sender)
        self.sender = sender
        self.backlog = backlog
        """Bytes unsent in the socket beyond which the subscriber has fallen behind."""
        self.packets = 0
        self.octets = 0
        self._on_ready = on_ready
        self._payload_type: int | None = None
        self._ssrc: int = sender._ssrc
        self._sequence = random_sequence_number()
        self._origin = random32()
        self._extension_head = b""
        self._extension_tail = b""
        self._abs_send_time = False
        self._history: list[bytes | None] = [None] * RTP_HISTORY_SIZE
        self._connected = False
        self._wrap()

    def __repr__(self) -> str:
        return f"PacketWriter(ssrc={self._ssrc} pt={self._payload_type})"

    def _wrap(self) -> None:
        sender = self.sender
        send = sender.send

        async def send_and_learn(parameters: RTCRtpSendParameters) -> None:
            self.configure(parameters)
            await send(parameters)

        async def retransmit(sequence_number: int) -> None:
            self.retransmit(sequence_number)

        sender.send = send_and_learn  # type: ignore[method-assign]
        sender._retransmit = retransmit  # type: ignore[method-assign]

    def configure(self, parameters: RTCRtpSendParameters) -> None:
        """Take the payload type, the mid and the extension ids negotiated for the sender."""
        if self._payload_type is not None:
            return  # aiortc's sender also starts only once
        self._payload_type = parameters.codecs[0].payloadType
        ids = {extension.uri: extension.id for extension in parameters.headerExtensions}
        # RFC 8285 one-byte elements: (id << 4 | length - 1), then the value.
        elements = b""
        mid = parameters.muxId.encode()
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
        dtls = self.sender.transport
        dtls.on("statechange", self._statechange)
        self._statechange()

    def _statechange(self) -> None:
        connected = self.sender.transport._state is State.CONNECTED
        if connected and not self._connected:
            self._on_ready()
        self._connected = connected

    @property
    def connected(self) -> bool:
        """Negotiated, and the connection's DTLS is up: packets written now are sent."""
        return self._payload_type is not None and self._connected

    def write(self, payloads: Sequence[bytes], timestamp: int, ntp: int | None = None) -> Written:
        """Send one frame's ``payloads`` at ``timestamp``: ``SENT``, or why not.

        ``BEHIND``: the subscriber's socket holds more than ``backlog`` bytes unsent, and the
        frame was not sent (the caller drops frames until a keyframe).

        ``ntp`` is the frame's arrival as an NTP timestamp (``aiortc.clock``), shared by every
        subscriber of the frame; the current time by default.
        """
        if self._payload_type is None:
            return Written.DOWN
        dtls = self.sender.transport
        if dtls._state is not State.CONNECTED:
            return Written.DOWN
        found = _socket(dtls)
        if found is None:
            return Written.DOWN
        if found[0].get_write_buffer_size() > self.backlog:
            return Written.BEHIND
        transport, address = found
        sendto = transport.sendto
        protect = dtls._tx_srtp.protect
        if ntp is None:
            ntp = current_ntp_time()
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
            history[sequence % RTP_HISTORY_SIZE] = data
            octets += len(payload)
            sequence = (sequence + 1) & 0xFFFF
        self._sequence = sequence
        self.packets += len(payloads)
        self.octets += octets
        sender = self.sender
        sender._RTCRtpSender__ntp_timestamp = ntp  # type: ignore[attr-defined]
        sender._RTCRtpSender__rtp_timestamp = timestamp  # type: ignore[attr-defined]
        sender._RTCRtpSender__packet_count = self.packets  # type: ignore[attr-defined]
        sender._RTCRtpSender__octet_count = self.octets  # type: ignore[attr-defined]
        return Written.SENT

    def retransmit(self, sequence_number: int) -> None:
        """Send again a packet the subscriber reported lost (NACK), if it is still kept.

        The stored packet is already encrypted: resending it as it was is what the receiver
        missed (an RTP header is not encrypted, so its sequence number can be checked).
        """
        data = self._history[sequence_number % RTP_HISTORY_SIZE]
        if data is None or int.from_bytes(data[2:4], "big") != sequence_number:
            return
        found = _socket(self.sender.transport)
        if found is not None:
            found[0].sendto(data, found[1])
