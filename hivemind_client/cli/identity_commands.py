"""Identity commands: ``set-identity``, ``reset-pgp``, ``forget-server``, ``trust``.

They only read and write the identity file and its key files (through
:class:`~hivemind_client.identity.NodeIdentity`, which writes atomically with mode 0600); none
of them opens a connection. Passwords and access keys are shown masked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hivemind_client.cli.support import (
    DEFAULT_PORT,
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Environment,
    IdentityLike,
    default_environment,
    load_identity,
    mask,
    read_password,
    say,
    split_host,
)
from hivemind_client.identity import public_key_fingerprint

__all__ = ["forget_server", "reset_pgp", "set_identity", "trust"]


def _check_key(key: str) -> None:
    if not key.isascii() or not key.isprintable() or " " in key or ":" in key:
        raise CliError(
            "--key must be printable ASCII without spaces or ':' (it travels in the URL)",
            EXIT_USAGE,
        )


def _show_public_key(identity: IdentityLike) -> None:
    pem = identity.public_key_pem
    say(f"public key ({public_key_fingerprint(pem)}):")
    say(pem.strip())


def set_identity(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """Save the given fields (others keep their values); create keys if needed; show the result."""
    key = getattr(args, "key", None)
    password = read_password(getattr(args, "password", None))
    host = getattr(args, "host", None)
    port = getattr(args, "port", None)
    site_id = getattr(args, "siteid", None)
    if not any((key, password, host, port, site_id)):
        raise CliError(
            "nothing to set: give at least one of --key, --password, --host, --port, --siteid",
            EXIT_USAGE,
        )
    identity = (environment or default_environment()).identity(args, True)
    if key:
        _check_key(key)
        identity.access_key = key
    if password and password != identity.password:
        identity.password = password
        identity.clear_psks()  # every cached protocol v3 PSK was derived from the old password
    if site_id:
        identity.site_id = site_id
    if host:
        scheme, hostname, host_port = split_host(host)
        shown = f"[{hostname}]" if ":" in hostname else hostname
        identity.default_master = f"{scheme}://{shown}"  # the reference's form: a URL, no port
        port = port or host_port
    identity.default_port = port or identity.default_port or DEFAULT_PORT
    created = not identity.has_keys
    identity.ensure_keys()  # creates the pair when missing (and saves)
    identity.save()
    say(f"identity saved: {identity.path}")
    say(f"  access key  {mask(identity.access_key)}")
    say(f"  password    {mask(identity.password)}")
    say(f"  hub         {identity.default_master or '(not set)'} port {identity.default_port}")
    say(f"  site id     {identity.site_id or '(not set)'}")
    if created:
        say(f"created a new RSA key pair: {identity.private_key_path}")
    _show_public_key(identity)
    return EXIT_OK


def reset_pgp(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """Replace the RSA key pair and print the new public key."""
    identity = (environment or default_environment()).identity(args, True)
    identity.reset_keys()
    say(f"new RSA key pair written: {identity.private_key_path}")
    say(f"identity saved: {identity.path}")
    _show_public_key(identity)
    return EXIT_OK


def forget_server(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """Drop the pinned protocol v3 key of one hub (exit status 3 when none was pinned)."""
    environment = environment or default_environment()
    identity = environment.identity(args, False)
    server = args.server or getattr(args, "host", None) or identity.default_master
    if not server:
        raise CliError(
            "which hub? give HOST:PORT (the identity file names no default hub)", EXIT_USAGE
        )
    _, hostname, port = split_host(server)
    port = port or getattr(args, "port", None) or identity.default_port or DEFAULT_PORT
    pin_id = f"{hostname}:{port}"
    owner = environment.shared_owner(args, identity)
    if owner is not None:
        # the pin is every application's on this machine, not only this one's
        say(
            f"{owner} has no identity file of its own: this pin is in the shared "
            f"{identity.path}, checked by every application on this box"
        )
    if identity.forget_hub(pin_id):
        say(f"forgot pinned key for {pin_id}; the next connection pins the key it sees")
        return EXIT_OK
    pinned = ", ".join(sorted(identity.pinned_hubs)) or "none"
    say(f"no pinned key for {pin_id} (pinned hubs: {pinned})")
    return EXIT_NO_ANSWER


def _read_pem(source: str) -> str:
    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source).expanduser()
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise CliError(f"no such key file: {path}") from None
        except UnicodeDecodeError:
            raise CliError(f"{path} is not a PEM text file") from None
    if "-----BEGIN" not in text:
        raise CliError(f"{'stdin' if source == '-' else source} holds no PEM public key")
    return text


def trust(args: argparse.Namespace) -> int:
    """``trust add|remove|list``."""
    identity = load_identity(args)
    if args.action == "add":
        alias = identity.trust(_read_pem(args.key_file), args.alias)
        pem = identity.trusted_keys[alias]
        say(f"trusted {public_key_fingerprint(pem)} as {alias!r}")
        return EXIT_OK
    if args.action == "remove":
        name = args.name
        if name not in identity.trusted_keys and Path(name).expanduser().is_file():
            name = _read_pem(name)
        if identity.untrust(name):
            say(f"no longer trusted: {args.name}")
            return EXIT_OK
        say(f"not trusted, nothing removed: {args.name}")
        return EXIT_NO_ANSWER
    keys = identity.trusted_keys
    if not keys:
        say(f"no trusted keys in {identity.path}")
        return EXIT_OK
    width = max(len(alias) for alias in keys)
    for alias, pem in sorted(keys.items()):
        say(f"{alias:<{width}}  {public_key_fingerprint(pem)}")
        if args.pem:
            say(pem.strip())
    return EXIT_OK
