"""WebM files of encoded frames: the only module that touches PyAV's muxer.

A ``WebmFile`` holds one stream, VP8 or Opus, whose frames are written as they came from the
publisher: no decoder, no encoder, only libavformat's Matroska/WebM muxer. What the muxer needs
besides the frames:

* VP8: the picture size, read from the first keyframe's header (RFC 6386 section 9.1). Later
  keyframes may change it; WebM decoders follow the bitstream.
* Opus: an ``OpusHead`` as the track's CodecPrivate (RFC 7845 section 5.1, which the Matroska
  codec mapping requires for ``A_OPUS``; browsers refuse the track without it). PyAV's streams
  without a codec context (``add_mux_stream``) have no way to set extradata, so the stream is
  copied from a template: a two-page Ogg Opus file made here, whose demuxer fills in the
  OpusHead, 48 kHz and two channels (``_opus_template``). Pre-skip is 0: the recording starts
  in the middle of the publisher's stream, long after its encoder's own delay.

Crash safety: the muxer keeps the current cluster in memory and writes it whole when the next
one starts, so the file on disk is always a header and whole clusters. ``cluster_time_limit``
starts a cluster every second (the default is five seconds or 5 MB) and ``flush_packets``
hands each written cluster to the OS at once (without it, AVIO's buffer holds 32 KB of
clusters). A process killed at any moment leaves a file that decodes up to its last cluster:
within about a second of the kill. Cues and the duration are written by ``close``; a killed
file has neither (players seek in it slowly, and a remux with ``-c copy`` adds them). The page
cache is not synced: a power cut may lose more than the last second.
"""

from __future__ import annotations

import fractions
import functools
import io
import struct
from pathlib import Path
from typing import Any

import av

TIME_BASE = fractions.Fraction(1, 1000)
"""Matroska's default timestamp scale: one millisecond."""

CODECS = {"video/vp8": "vp8", "audio/opus": "opus"}
"""The codecs a WebM file takes (the SFU's, ``signaling.codecs.CODECS``), by MIME type."""

OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1"}
"""The muxer's options: a cluster per second, each handed to the OS as it is written."""


def vp8_size(keyframe: bytes) -> tuple[int, int]:
    """Width and height of a VP8 keyframe (RFC 6386 section 9.1: after the 3-byte frame tag
    and the start code 9d 01 2a, 14 bits each, with 2 bits of scaling above)."""
    if len(keyframe) < 10 or keyframe[3:6] != b"\x9d\x01\x2a":
        raise ValueError("not a VP8 keyframe")
    width, height = struct.unpack_from("<HH", keyframe, 6)
    return width & 0x3FFF, height & 0x3FFF


class WebmFile:
    """One source's frames, written to ``path`` as a WebM file of one stream.

    ``mime_type`` is the publisher's codec (``CODECS``); for VP8 ``first`` is the first frame,
    a keyframe, which gives the picture size. ``write`` takes timestamps in milliseconds from
    the file's start, never going backwards; ``close`` finishes the file (cues, duration).
    """

    def __init__(self, path: Path, mime_type: str, first: bytes = b"") -> None:
        codec = CODECS.get(mime_type.lower())
        if codec is None:
            raise ValueError(f"WebmFile: no WebM codec for {mime_type!r}")
        self.path = path
        self.codec = codec
        self.size: tuple[int, int] | None = None
        self._container: Any = av.open(str(path), "w", format="webm", container_options=OPTIONS)
        try:
            if codec == "vp8":
                self.size = vp8_size(first)
                width, height = self.size
                self._stream = self._container.add_mux_stream("vp8", width=width, height=height)
            else:
                self._stream = self._container.add_stream_from_template(_opus_template())
            self._stream.time_base = TIME_BASE
            # The header now: a file that cannot be written fails here, not at a later frame.
            self._container.start_encoding()
        except BaseException:
            self._container.close()
            raise

    def write(self, data: bytes, milliseconds: int, keyframe: bool) -> None:
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.time_base = TIME_BASE
        packet.pts = packet.dts = milliseconds
        packet.is_keyframe = keyframe
        self._container.mux(packet)

    def close(self) -> None:
        self._container.close()


@functools.cache
def _opus_template() -> Any:
    """A stream with an OpusHead (stereo, 48 kHz, pre-skip 0), to copy into a new file."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 0, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<II", 0, 0)
    silence = b"\xf8\xff\xfe"  # one 20 ms frame of silence: the demuxer wants a data page
    ogg = _ogg_page(head, 0, 0x02) + _ogg_page(tags, 1, 0) + _ogg_page(silence, 2, 0x04)
    # The container stays open (cached) for as long as the process: its stream is the template.
    return av.open(io.BytesIO(ogg), format="ogg").streams.audio[0]


def _ogg_page(packet: bytes, sequence: int, flags: int) -> bytes:
    """One Ogg page holding ``packet`` (RFC 3533 section 6), with its checksum."""
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, 0, 1, sequence, 0, 1)
    page = bytearray(header + bytes([len(packet)]) + packet)
    struct.pack_into("<I", page, 22, _ogg_crc(page))
    return bytes(page)


@functools.cache
def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


def _ogg_crc(data: bytes | bytearray) -> int:
    """Ogg's CRC-32: polynomial 0x04c11db7, not reflected, starting at 0 (RFC 3533 section 6)."""
    table, crc = _crc_table(), 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc
