"""Which identity file a node uses: the shared one, or an application's own (``app_name``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hivemind_client.errors import InvalidArgument
from hivemind_client.identity import NodeIdentity, default_identity_path, identity_path_for


def _home() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "hivemind"


def test_no_app_name_is_the_shared_file() -> None:
    assert identity_path_for(None) == default_identity_path() == _home() / "_identity.json"
    identity = NodeIdentity()
    assert identity.path == default_identity_path()
    assert not identity.uses_shared_fallback


def test_an_app_without_a_file_reads_the_shared_one(caplog: pytest.LogCaptureFixture) -> None:
    assert default_identity_path().is_file()  # the test's config home is seeded with one
    identity = NodeIdentity(app_name="kitchen")
    assert identity.path == default_identity_path()
    assert identity.uses_shared_fallback
    assert "has no identity file" in caplog.text


def test_an_app_with_its_own_file_reads_it() -> None:
    NodeIdentity(app_name="kitchen", shared_fallback=False).save()
    identity = NodeIdentity(app_name="kitchen")
    assert identity.path == _home() / "kitchen" / "_identity.json"
    assert not identity.uses_shared_fallback


def test_without_a_shared_file_an_app_uses_its_own_path() -> None:
    default_identity_path().unlink()
    assert identity_path_for("kitchen") == _home() / "kitchen" / "_identity.json"


def test_two_apps_are_two_static_keys() -> None:
    one = NodeIdentity(app_name="one", shared_fallback=False)
    two = NodeIdentity(app_name="two", shared_fallback=False)
    assert one.noise_private_key() != two.noise_private_key()
    assert NodeIdentity(app_name="one").noise_private_key() == one.noise_private_key()


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_an_app_name_is_one_plain_path_segment(name: str) -> None:
    with pytest.raises(InvalidArgument):
        NodeIdentity(app_name=name)


def test_a_path_and_an_app_name_contradict(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        NodeIdentity(tmp_path / "_identity.json", app_name="kitchen")


def test_locate_identity_says_where_and_whether_it_fell_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from hivemind_client.identity.node_identity import locate_identity

    own = _home() / "radio" / "_identity.json"
    assert locate_identity(None) == (default_identity_path(), None)
    assert locate_identity("radio") == (default_identity_path(), own)
    assert locate_identity("radio", shared_fallback=False) == (own, None)
    assert caplog.text == ""  # the caller says it, its own way
    with pytest.raises(InvalidArgument):
        locate_identity("../escape")
