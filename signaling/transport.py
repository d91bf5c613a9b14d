"""What a forwarding unit needs from aiortc and aioice that they do not offer in public.

aiortc (1.16) has no public hook for encoded media, neither to take a publisher's frames
before they are decoded nor to send a subscriber packets it did not packetize itself. This
module is the one place that reaches below its surface; the rest of the package gets what it
needs through two doors, as pion's ``TrackLocal.Bind`` hands an SFU the SSRC, payload type
and a writer:

* receiving, ``tap``: a receiver's complete encoded frames, as its jitter buffer reassembled
  them, handed to a callback instead of the receiver's decoder; ``send_pli`` asks the
  publisher for a keyframe (RFC 4585 section 6.3.1); ``media_ssrcs`` names the stream to ask.
* sending, ``Outbound``: one sent m-line whose sender runs its RTCP as usual (sender reports,
  NACK, PLI/FIR) while its RTP is written by the caller: the negotiated SSRC, payload type,
  mid and header-extension ids, the connection's SRTP session and UDP socket (``route``),
  callbacks for NACK and keyframe requests, and the sender-report counters (``report``).

Every private name used is in ``SEAMS``, and ``check`` (run when the server starts, from
``server.media``) stops the server when one has moved, naming the library, its installed
version and the name. ``tests/test_sfu.py`` runs the check and exercises each seam on real
peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.metadata
import inspect
import queue
from collections.abc import Callable
from typing import Any

from aioice.ice import Connection, StunProtocol
from aiortc import (
    RTCDtlsTransport,
    RTCIceTransport,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.clock import current_ntp_time
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.sdp import SessionDescription

ntp_now = current_ntp_time
"""The present as a 64-bit NTP timestamp, as aiortc's sender reports carry it."""

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_STARTED = "_RTCRtpReceiver__started"
_COUNTERS = ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count")
"""What ``RTCRtpSender._run_rtcp`` puts in its sender reports (RFC 3550 section 6.4.1)."""


def _source(target: Any) -> str:
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):
        return ""


def _method(cls: type, name: str, parameters: list[str], *, coroutine: bool) -> bool:
    method = getattr(cls, name, None)
    if method is None or not callable(method):
        return False
    if coroutine and not inspect.iscoroutinefunction(method):
        return False
    return list(inspect.signature(method).parameters) == ["self", *parameters]


def _code(cls: type, method: str, *fragments: str) -> bool:
    code = _source(getattr(cls, method, None))
    return bool(code) and all(fragment in code for fragment in fragments)


@dataclasses.dataclass(frozen=True, slots=True)
class Seam:
    """One private name this module uses, and how to tell it is still there."""

    library: str
    name: str
    present: Callable[[], bool]


def _counter(name: str) -> Seam:
    return Seam(
        "aiortc",
        f"RTCRtpSender.__{name}",
        lambda: (
            _code(RTCRtpSender, "__init__", f"self.__{name} = ")
            and _code(RTCRtpSender, "_run_rtcp", f"self.__{name}")
        ),
    )


SEAMS = (
    Seam(
        "aiortc",
        "RTCRtpReceiver.__decoder_queue (complete frames as (codec, JitterFrame))",
        lambda: (
            _code(RTCRtpReceiver, "__init__", "self.__decoder_queue: queue.Queue")
            and _code(RTCRtpReceiver, "_handle_rtp_packet", "__decoder_queue.put((codec, encoded")
            and _code(RTCRtpReceiver, "receive", "self.__decoder_queue,")
        ),
    ),
    Seam(
        "aiortc",
        "RTCRtpReceiver.__started",
        lambda: _code(RTCRtpReceiver, "__init__", "self.__started = False"),
    ),
    Seam(
        "aiortc",
        "RTCRtpReceiver._send_rtcp_pli(self, media_ssrc)",
        lambda: _method(RTCRtpReceiver, "_send_rtcp_pli", ["media_ssrc"], coroutine=True),
    ),
    Seam(
        "aiortc",
        "RTCRtpSender._ssrc",
        lambda: _code(RTCRtpSender, "__init__", "self._ssrc = "),
    ),
    Seam(
        "aiortc",
        "RTCRtpSender._send_keyframe(self)",
        lambda: (
            _method(RTCRtpSender, "_send_keyframe", [], coroutine=False)
            and _code(RTCRtpSender, "_handle_rtcp_packet", "self._send_keyframe()")
        ),
    ),
    Seam(
        "aiortc",
        "RTCRtpSender._retransmit(self, sequence_number)",
        lambda: (
            _method(RTCRtpSender, "_retransmit", ["sequence_number"], coroutine=True)
            and _code(RTCRtpSender, "_handle_rtcp_packet", "await self._retransmit(seq)")
        ),
    ),
    *(_counter(counter) for counter in _COUNTERS),
    Seam(
        "aiortc",
        "RTCDtlsTransport._state",
        lambda: _code(RTCDtlsTransport, "_send_rtp", "self._state != State.CONNECTED"),
    ),
    Seam(
        "aiortc",
        "RTCDtlsTransport._tx_srtp",
        lambda: _code(RTCDtlsTransport, "_send_rtp", "self._tx_srtp.protect(data)"),
    ),
    Seam(
        "aiortc",
        "RTCIceTransport._connection",
        lambda: "self._connection = gatherer._connection" in _source(RTCIceTransport),
    ),
    Seam(
        "aioice",
        "Connection._nominated (component: pair with protocol and remote_addr)",
        lambda: (
            _code(Connection, "sendto", "self._nominated.get(component)", "protocol.send_data")
            and "remote_addr" in _source(Connection.sendto)
        ),
    ),
    Seam(
        "aioice",
        "StunProtocol.transport",
        lambda: _code(StunProtocol, "send_data", "self.transport.sendto(data, addr)"),
    ),
)


class MissingSeam(RuntimeError):
    """A library no longer has a private name this module uses."""


def _version(library: str) -> str:
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def _missing(library: str, name: str) -> MissingSeam:
    return MissingSeam(
        f"{library} {_version(library)} no longer has {name}, which the SFU uses "
        "(signaling/transport.py); install the version pinned in pyproject.toml"
    )


def check() -> None:
    """Raise ``MissingSeam`` for the first name in ``SEAMS`` that is not there any more."""
    for seam in SEAMS:
        if not seam.present():
            raise _missing(seam.library, seam.name)


# -- receiving ---------------------------------------------------------------------------------


FrameCallback = Callable[[str, int, bytes, int], None]
"""(mime type, clock rate, encoded frame, RTP timestamp unwrapped from 0)."""


class Tap(queue.Queue[Any]):
    """Stands in for a receiver's decoder queue: frames go to ``on_frame``, not the decoder.

    ``put`` is called on the event loop by ``RTCRtpReceiver._handle_rtp_packet``; the stop
    sentinel ``None`` still reaches the decoder thread, so the receiver stops as it would,
    and ``on_end`` is called on the loop.
    """

    def __init__(self, on_frame: FrameCallback, on_end: Callable[[], None]) -> None:
        super().__init__()
        self.on_frame: FrameCallback | None = on_frame
        self._on_end = on_end
        self._loop = asyncio.get_running_loop()

    def close(self) -> None:
        """Drop what comes from now on: nobody reads it."""
        self.on_frame = None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None, block, timeout)
            if self.on_frame is not None:
                with contextlib.suppress(RuntimeError):  # the loop is already closed
                    self._loop.call_soon_threadsafe(self._on_end)
        elif self.on_frame is not None:
            codec, frame = item
            self.on_frame(codec.mimeType, codec.clockRate, frame.data, frame.timestamp)


def tap(receiver: RTCRtpReceiver, on_frame: FrameCallback, on_end: Callable[[], None]) -> Tap:
    """Take ``receiver``'s encoded frames from now on; it must not have started yet."""
    if getattr(receiver, _RECEIVER_STARTED, True):
        raise RuntimeError("tap: the receiver has already started")
    decoder_queue = getattr(receiver, _DECODER_QUEUE, None)
    if isinstance(decoder_queue, Tap):
        raise RuntimeError("tap: the receiver is already tapped")
    if not isinstance(decoder_queue, queue.Queue):
        raise _missing("aiortc", "RTCRtpReceiver.__decoder_queue")
    frames = Tap(on_frame, on_end)
    setattr(receiver, _DECODER_QUEUE, frames)
    return frames


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher of ``media_ssrc`` for a keyframe (RFC 4585 section 6.3.1)."""
    await receiver._send_rtcp_pli(media_ssrc)


def media_ssrcs(pc: RTCPeerConnection, transceiver: RTCRtpTransceiver) -> list[int]:
    """The SSRCs to ask for a keyframe on ``transceiver``'s received stream.

    The publisher's media SSRC, by aiortc's own rule (the first a=ssrc of the m-line);
    without one in the SDP, every source heard lately (RTX SSRCs are harmlessly extra).
    """
    description = pc.remoteDescription
    if description is not None:
        for media in SessionDescription.parse(description.sdp).media:
            if media.rtp.muxId == transceiver.mid and media.ssrc:
                return [media.ssrc[0].ssrc]
    return [source.source for source in transceiver.receiver.getSynchronizationSources()]


# -- sending -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Negotiated:
    """What the SDP settled for a sent m-line, as its sender was started with it."""

    payload_type: int | None
    mid: str
    extensions: dict[str, int]
    """Header extension ids by URI (RFC 8285)."""


Route = tuple[Callable[[bytes], bytes], Callable[[bytes, Any], None], Any, int]
"""Where a subscriber's packets go now: (SRTP ``protect``, the socket's ``sendto``, the peer's
address, the bytes the socket holds unsent). A plain tuple: it is made per frame."""


class _Idle(MediaStreamTrack):
    """What the sender's own RTP loop reads: nothing, until the m-line is stopped."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._stopped = asyncio.Event()

    async def recv(self) -> Any:
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        self._stopped.set()


class Outbound:
    """A sent m-line on ``pc`` whose RTP the caller writes; the sender keeps its RTCP.

    Add it before the offer or answer is made. ``on_negotiated`` is called once, when the
    connection starts the sender; ``on_ready`` each time its DTLS comes up; ``on_nack`` with
    each sequence number the subscriber reports lost (RFC 4585 section 6.2.1);
    ``on_keyframe_request`` for each PLI or FIR.
    """

    def __init__(
        self,
        pc: RTCPeerConnection,
        kind: str,
        *,
        on_negotiated: Callable[[Negotiated], None],
        on_ready: Callable[[], None],
        on_nack: Callable[[int], None],
        on_keyframe_request: Callable[[], None],
    ) -> None:
        self._track = _Idle(kind)
        self.transceiver = pc.addTransceiver(self._track, direction="sendonly")
        sender = self.transceiver.sender
        self.sender = sender
        ssrc = getattr(sender, "_ssrc", None)
        if not isinstance(ssrc, int):
            raise _missing("aiortc", "RTCRtpSender._ssrc")
        self.ssrc: int = ssrc
        for counter in _COUNTERS:
            if not isinstance(getattr(sender, f"_RTCRtpSender__{counter}", None), int):
                raise _missing("aiortc", f"RTCRtpSender.__{counter}")
        self.connected = False
        """The connection's DTLS is up: packets written now are sent."""
        self.negotiated = False
        self._on_ready = on_ready
        send = sender.send
        keyframe: Callable[[], None] = sender._send_keyframe

        async def send_and_learn(parameters: RTCRtpSendParameters) -> None:
            if not self.negotiated:  # aiortc's sender also starts only once
                self.negotiated = True
                ids = {e.uri: e.id for e in parameters.headerExtensions}
                payload_type = parameters.codecs[0].payloadType
                on_negotiated(Negotiated(payload_type, parameters.muxId, ids))
                sender.transport.on("statechange", self._statechange)
                self._statechange()
            await send(parameters)

        async def retransmit(sequence_number: int) -> None:
            on_nack(sequence_number)

        def send_keyframe() -> None:
            keyframe()
            on_keyframe_request()

        # Wrapped on this sender instance only, never on the class.
        sender.send = send_and_learn  # type: ignore[method-assign]
        sender._retransmit = retransmit  # type: ignore[method-assign]
        sender._send_keyframe = send_keyframe  # type: ignore[method-assign]

    def _statechange(self) -> None:
        connected = self.sender.transport._state is State.CONNECTED
        if connected and not self.connected:
            self.connected = True
            self._on_ready()
        self.connected = connected

    def route(self) -> Route | None:
        """The nominated ICE pair's socket and the SRTP session, or None while there is none."""
        dtls = self.sender.transport
        if dtls._state is not State.CONNECTED:
            return None
        connection = getattr(dtls.transport, "_connection", None)
        pair = connection._nominated.get(1) if connection is not None else None
        if pair is None:
            return None
        transport = pair.protocol.transport
        if transport is None or transport.is_closing():
            return None
        buffered: int = transport.get_write_buffer_size()
        return dtls._tx_srtp.protect, transport.sendto, pair.remote_addr, buffered

    def report(self, ntp: int, rtp_timestamp: int, packets: int, octets: int) -> None:
        """What the sender's next report says was sent (RFC 3550 section 6.4.1)."""
        sender = self.sender
        sender._RTCRtpSender__ntp_timestamp = ntp  # type: ignore[attr-defined]
        sender._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]
        sender._RTCRtpSender__packet_count = packets  # type: ignore[attr-defined]
        sender._RTCRtpSender__octet_count = octets  # type: ignore[attr-defined]

    def stop(self) -> None:
        """End the sender's RTP loop (its track ends); the peer connection stays the caller's."""
        self._track.stop()
