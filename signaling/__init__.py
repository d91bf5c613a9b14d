"""WebRTC signalling: ICE server configuration and the rules for relayed SDP and candidates.

The server relays offers, answers and ICE candidates between members of a room (mesh); it does
not look inside an SDP beyond checking its shape and size. ``sfu`` is the start of the other
model: the server receives each publisher's media and forwards the encoded frames itself.
"""
