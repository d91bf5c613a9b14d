"""WebRTC signalling and the SFU: everything the server does with peer connections.

A video room's media goes one of two ways. In *mesh*, members' browsers connect to each other
and the server only relays their offers, answers and candidates (``relay`` checks their shape
and size; ``ice`` hands out the ICE servers, with per-user TURN credentials). Through the
*SFU*, every member has one peer connection with the server per room, which receives each
publisher's encoded frames and forwards them to the other members without decoding them.

Modules, from the outside in:

* ``room``: ``MediaRoom``, one room's media sessions in this process and which source each
  session forwards (``reconcile``), ``RoomStats``; ``metrics`` formats them for Prometheus.
* ``session``: ``PeerSession``, the server's peer connection with one client connection in
  one room: three received m-lines (mic, camera, screen), each a ``Publication``; the sent
  m-lines, each a ``Slot``; offers, answers and candidates.
* ``publication``: ``Publication``, one published source: its frames taken from the receiver
  before decoding, packetized once, handed to its frame sinks (``FrameSink``); keyframe
  requests to the publisher, throttled; the latest keyframe replayed to a sink that starts.
* ``slot``: ``Slot``, the frame sink that writes one publication's frames to one subscriber,
  reassigned from publication to publication for the life of its m-line.
* ``packets``: ``PacketWriter``, one subscriber's RTP packets, SRTP and ``sendto``.
* ``recorder``: ``Recording``, publications written to files as they come, one ``Recorder``
  (a frame sink) per source and file; ``webm``: ``WebmFile``, the files, the one module
  that touches PyAV's muxer.
* ``sdp``: what the server takes from a client's SDP (an answer, a trickled candidate),
  checked before aiortc reads it.
* ``codecs``: the one codec per kind (VP8, Opus), keyframes, VP8 packetization.
* ``transport``: the adapter, the only module that touches aiortc's and aioice's private
  names; it lists each (``SEAMS``) and ``check`` stops the server at start-up when one moved.
* ``sources``, ``errors``: the package's own small types (``Source``, ``Track``) and its
  refusals (``SignalingError``).

The boundary: this package imports nothing from ``server``. It takes callbacks and its own
types (``MediaRoom`` sees ``may_publish(user, source)`` and ``send(sid, event, payload)``, never
a member); ``server.media`` translates them to the protocol's types and a ``SignalingError``
to the protocol's error codes.
"""
