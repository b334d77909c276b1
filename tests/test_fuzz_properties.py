"""The fuzz targets of tests/fuzz/ in CI: corpus replay, hypothesis, and the crashes they found.

Every target (tests/fuzz/targets.py) holds one invariant: any input is accepted or refused with
a HiveMindError, and what is accepted keeps its properties (round trips, one spelling per
value, session states). Locally, atheris runs the same functions for minutes
(tests/fuzz/README.md); here each runs on the saved corpus, on a bounded hypothesis budget
(the ``ci`` profile), and on the inputs that once crashed it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hivemind_client.errors import InvalidEncoding
from hivemind_client.security import legacy_handshake as handshake_module
from hivemind_client.security.encodings import ENCODINGS, decode_text, encode_text

from .fuzz import targets

CORPUS = Path(__file__).resolve().parent / "fuzz" / "corpus"
NAMES = sorted(targets.TARGETS)


def _corpus(name: str) -> list[Path]:
    return sorted((CORPUS / name).iterdir())


def test_every_target_has_a_corpus() -> None:
    assert sorted(path.name for path in CORPUS.iterdir() if path.is_dir()) == NAMES
    for name in NAMES:
        assert len(_corpus(name)) >= 5, name


@pytest.fixture
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 PBKDF2 rounds instead of 100 000 for this test (hub and client both read the module
    value); the invariants do not depend on it, and a session corpus replay gets 10x faster."""
    monkeypatch.setattr(handshake_module, "PBKDF2_ITERATIONS", 10)


@pytest.mark.parametrize("name", NAMES)
def test_corpus_replays_clean(name: str, fast_kdf: None) -> None:
    """Every saved input, crash reproducers (``crash-*``) included, holds the invariant."""
    target = targets.TARGETS[name]
    for path in _corpus(name):
        try:
            targets.run(target, path.read_bytes())
        except Exception as error:
            raise AssertionError(f"{name}: {path.name}: {error!r}") from error


def _mutations(name: str) -> st.SearchStrategy[bytes]:
    """A saved input with a few bytes replaced, inserted or cut: reaches deeper than noise."""
    seeds = [path.read_bytes() for path in _corpus(name)][:400]

    def mutate(seed: bytes, edits: list[tuple[int, int, int]]) -> bytes:
        data = bytearray(seed)
        for kind, position, value in edits:
            at = position % (len(data) + 1)
            if kind == 0 and data:
                data[at % len(data)] = value
            elif kind == 1:
                data.insert(at, value)
            elif data:
                del data[at:]
        return bytes(data)

    edit = st.tuples(st.integers(0, 2), st.integers(0, 1 << 16), st.integers(0, 255))
    return st.builds(mutate, st.sampled_from(seeds), st.lists(edit, max_size=4))


def _property(name: str) -> object:
    strategy = st.one_of(st.binary(max_size=600), _mutations(name))

    @given(data=strategy)
    def check(data: bytes) -> None:
        targets.run(targets.TARGETS[name], data)

    check.__name__ = f"test_{name}_invariant_holds_for_random_and_mutated_inputs"
    return check


test_decode_frame_invariant = _property("decode_frame")
test_decode_json_invariant = _property("decode_json")
test_decode_text_invariant = _property("decode_text")
test_crypto_invariant = _property("crypto")
test_handshake_invariant = _property("handshake")
test_session_invariant = _property("session")


# -- what the fuzzers found ------------------------------------------------------------------


def test_b32_with_a_whole_block_of_padding_is_invalid_encoding_not_index_error() -> None:
    """Found by fuzz_decode_text: eight '=' at the end raised IndexError (padding table)."""
    for text in ("========", "MFRGG===========", "M1===\x03M1========"):
        with pytest.raises(InvalidEncoding):
            decode_text(text, "JSON-B32")


@pytest.mark.parametrize(
    "text",
    [
        "ZABdAAdA",  # ... "dA": a final pair where the single character "d" is canonical
        'AZZdAB"BdZAA',
        'ZAZAZAdZ~ZZ~"A',
        "AAAAAAAAAAAAAAAAAAAAAdddddddddddddddddAAAAAAdddddddddddddddddddddddddddddddddddd"
        "ddddddddddddAAAAAAAAAAAA",  # the fuzzer's input (the windowed decoder path)
    ],
)
def test_b91_final_pair_that_one_character_would_spell_is_refused(text: str) -> None:
    """Found by fuzz_decode_text: the decoder accepted a second spelling of the same bytes."""
    with pytest.raises(InvalidEncoding, match="non-canonical final pair"):
        decode_text(text, "JSON-B91")
    assert decode_text(text[:-1], "JSON-B91")  # the canonical spelling still decodes


def test_b91_a_final_character_never_has_a_two_character_twin() -> None:
    """Deterministic sweep: wherever the canonical text ends with one character, that text
    plus "A" (digit 0, only zero bits) must not decode to the same bytes."""
    rng = random.Random(8)
    inputs = [rng.randbytes(size) for size in range(120) for _ in range(4)]
    inputs += [bytes([fill]) * size for fill in (0, 0x55, 0xFF) for size in range(120)]
    odd = 0
    for data in inputs:
        text = encode_text(data, "JSON-B91")
        if len(text) % 2:
            odd += 1
            try:
                twin = decode_text(text + "A", "JSON-B91")
            except InvalidEncoding:
                continue
            assert twin != data, text
    assert odd > 100


@pytest.mark.parametrize("encoding", [str(e) for e in ENCODINGS])
@given(data=st.binary(max_size=200))
def test_decoders_refuse_anything_with_one_extra_trailing_character(
    encoding: str, data: bytes
) -> None:
    """A canonical text plus one more character of the alphabet never decodes to the same bytes."""
    text = encode_text(data, encoding)
    for extra in ("A", "=", "0", '"'):
        try:
            again = decode_text(text + extra, encoding)
        except InvalidEncoding:
            continue
        assert again != data
