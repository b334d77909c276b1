"""``hivemind_bus_client.noise``: :mod:`hivemind_client.security.hivemind_noise`."""

from hivemind_client.errors import AuthenticationFailed, HandshakeFailed
from hivemind_client.security.hivemind_noise import (
    CHUNK_SIZE,
    PATTERN_KK,
    PATTERN_XX,
    SUITE_AESGCM,
    SUITE_CHACHAPOLY,
    SUITE_PREFERENCE,
    NoiseTransport,
    build_prologue,
    canonical_json,
    noise_protocol_name,
    select_noise_options,
)

__all__ = [
    "CHUNK_SIZE",
    "NOISE_PATTERN_KK",
    "NOISE_PATTERN_XX",
    "NOISE_SUITES",
    "NOISE_SUITE_AESGCM",
    "NOISE_SUITE_CHACHA",
    "NOISE_SUPPORTED",
    "NoiseHandshakeFailed",
    "NoiseTransport",
    "NoiseTransportFailed",
    "build_prologue",
    "canonical_json",
    "noise_protocol_name",
    "select_noise_options",
]

NOISE_PATTERN_XX = PATTERN_XX
NOISE_PATTERN_KK = PATTERN_KK
NOISE_SUITE_CHACHA = SUITE_CHACHAPOLY
NOISE_SUITE_AESGCM = SUITE_AESGCM
NOISE_SUITES = list(SUITE_PREFERENCE)
NOISE_SUPPORTED = True
NoiseHandshakeFailed = HandshakeFailed
NoiseTransportFailed = AuthenticationFailed
