"""Python 3.10 support: the StrEnum shim behaves like enum.StrEnum, generated models import."""

from __future__ import annotations

import importlib
import json

import pytest

from hivemind_client._compat import StrEnum
from hivemind_client.security.aead import Cipher
from hivemind_client.security.encodings import TextEncoding


class Colour(StrEnum):
    RED = "red"


@pytest.mark.parametrize("member", [Colour.RED, *Cipher, *TextEncoding])
def test_str_enum_members_are_their_values(member: StrEnum) -> None:
    value = member.value
    assert isinstance(member, str)
    assert member == value
    assert str(member) == value
    assert f"{member}" == value
    assert f"{member:>40}" == f"{value:>40}"
    assert json.dumps(member) == json.dumps(value)
    assert type(member)(value) is member
    assert hash(member) == hash(value)


@pytest.mark.parametrize("name", ["hive_message", "cipher_envelope", "conformance"])
def test_generated_models_import(name: str) -> None:
    module = importlib.import_module(f"hivemind_client._generated.{name}_models")
    assert module.NotRequired is not None
