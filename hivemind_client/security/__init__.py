"""The security layer: text encodings, AEAD envelopes, the legacy password and RSA
handshakes, INTERCOM sealing, the Noise framework and its HiveMind binding. Keys in, keys
out; no sockets, no files.
"""

__all__: list[str] = []
