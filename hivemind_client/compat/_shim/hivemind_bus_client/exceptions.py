"""The reference's exception names, as this library's error classes.

Each name is one of :mod:`hivemind_client.errors` (or a subclass that also carries the
reference's base), so ``except InvalidKeySize`` catches what the library raises.
"""

from hivemind_client import errors

__all__ = [
    "DecodingError",
    "DecryptionKeyError",
    "EncryptionKeyError",
    "HiveMindConnectionError",
    "HiveMindEntryPointNotFound",
    "HiveMindException",
    "IdentityFileCorrupted",
    "InvalidCipher",
    "InvalidEncoding",
    "InvalidKeySize",
    "MalformedBinaryFrame",
    "MetadataTooLarge",
    "SecureConnectionFailed",
    "UnauthorizedKeyError",
    "UnsupportedProtocolVersion",
    "WrongEncryptionKey",
    "Z85DecodeError",
]

HiveMindException = errors.HiveMindError
UnsupportedProtocolVersion = errors.UnsupportedVersion
MetadataTooLarge = errors.MetadataTooLarge
InvalidCipher = errors.UnknownCipher
InvalidEncoding = errors.InvalidEncoding
InvalidKeySize = errors.InvalidKeySize
WrongEncryptionKey = errors.AuthenticationFailed
DecryptionKeyError = errors.AuthenticationFailed
DecodingError = errors.FrameError
MalformedBinaryFrame = errors.FrameError
Z85DecodeError = errors.InvalidEncoding
IdentityFileCorrupted = errors.IdentityError
HiveMindConnectionError = errors.ConnectionFailed
SecureConnectionFailed = errors.ConnectionFailed
HiveMindEntryPointNotFound = errors.ConnectionFailed
UnauthorizedKeyError = errors.HandshakeFailed


class EncryptionKeyError(errors.InvalidKeySize):
    """Encrypting failed for the key given (the library reports a bad key as InvalidKeySize)."""
