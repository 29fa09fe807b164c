"""Names, option pairs, the client's own certificate and secrets of
gateway.collectors.opcua.security (no server needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from asyncua import ua
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.collectors.opcua import pki
from gateway.collectors.opcua.endpoints import server_certificate
from gateway.collectors.opcua.security import (
    Secret,
    SecurityError,
    SecuritySettings,
    check_names,
    ensure_client_certificate,
    problems,
)


@pytest.mark.parametrize(
    "policy", ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
)
def test_known_policies_with_matching_modes_are_fine(policy: str) -> None:
    modes = ["None"] if policy == "None" else ["Sign", "SignAndEncrypt"]
    for mode in modes:
        assert check_names(policy, mode) == []


def test_unknown_names_say_what_is_allowed_and_suggest_the_spelling() -> None:
    assert check_names("basic256sha256", "Encrypt") == [
        "security_policy 'basic256sha256' is not one of None, Basic256Sha256, "
        "Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss; did you mean Basic256Sha256?",
        "security_mode 'Encrypt' is not one of None, Sign, SignAndEncrypt",
    ]
    assert check_names("Basic128Rsa15", "Sign") == [
        "security_policy 'Basic128Rsa15' is not one of None, Basic256Sha256, "
        "Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss"
    ]


def test_none_policy_and_none_mode_only_go_together() -> None:
    assert check_names("None", "Sign") == [
        "security_mode Sign needs a security policy other than None "
        "(the None policy neither signs nor encrypts)"
    ]
    assert check_names("Basic256Sha256", "None") == [
        "security_policy Basic256Sha256 needs security_mode Sign or SignAndEncrypt "
        "(mode None is only for policy None)"
    ]


def test_problems_of_option_pairs_and_missing_files(tmp_path: Path) -> None:
    settings = SecuritySettings(
        state_dir=tmp_path, certificate=tmp_path / "client.der", password=Secret("x")
    )
    assert problems(settings) == [
        "certificate and private_key go together: private_key is missing",
        f"certificate {tmp_path / 'client.der'} does not exist",
        "a password is set but no username",
    ]


def test_own_certificate_is_made_once_with_the_application_uri_and_reused(
    tmp_path: Path,
) -> None:
    settings = SecuritySettings(state_dir=tmp_path, application_uri="urn:test:gateway")
    cert, key = ensure_client_certificate(settings)
    assert (cert, key) == (
        tmp_path / "pki" / "own" / "client_cert.der",
        tmp_path / "pki" / "own" / "client_key.pem",
    )
    parsed = x509.load_der_x509_certificate(cert.read_bytes())
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:test:gateway"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = cert.read_bytes()
    assert ensure_client_certificate(settings) == (cert, key)
    assert cert.read_bytes() == first  # reused, not remade
    other = SecuritySettings(state_dir=tmp_path, application_uri="urn:test:other")
    ensure_client_certificate(other)
    assert pki.application_uri_of(cert.read_bytes()) == "urn:test:other"


def test_a_supplied_certificate_is_used_as_it_is(tmp_path: Path) -> None:
    settings = SecuritySettings(
        state_dir=tmp_path, certificate=tmp_path / "c.der", private_key=tmp_path / "k.pem"
    )
    assert ensure_client_certificate(settings) == (tmp_path / "c.der", tmp_path / "k.pem")
    assert not (tmp_path / "pki").exists()


def test_two_identities_or_half_a_user_certificate_are_problems(tmp_path: Path) -> None:
    cert = tmp_path / "user.der"
    cert.write_bytes(b"")
    settings = SecuritySettings(
        state_dir=tmp_path, username="op", password=Secret("x"), user_certificate=cert
    )
    assert problems(settings) == [
        "user_certificate and user_private_key go together: user_private_key is missing",
        "username and user_certificate are two identities: choose one",
    ]


def test_an_unwritable_state_dir_is_a_security_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SecurityError, match="cannot write the certificate to"):
        ensure_client_certificate(SecuritySettings(state_dir=blocker))


def test_the_password_shows_in_no_repr() -> None:
    settings = SecuritySettings(state_dir=Path("s"), username="op", password=Secret("hunter2"))
    for text in (repr(settings), str(settings), repr(settings.password), f"{settings.password}"):
        assert "hunter2" not in text
    assert settings.password is not None
    assert settings.password.reveal() == "hunter2"
    assert "username='op'" in repr(settings)


def test_default_folders_under_the_state_dir(tmp_path: Path) -> None:
    settings = SecuritySettings(state_dir=tmp_path)
    assert settings.trusted_folder == tmp_path / "pki" / "trusted"
    assert settings.rejected_folder == tmp_path / "pki" / "rejected"
    assert SecuritySettings(state_dir=tmp_path, trusted_dir=Path("t")).trusted_folder == Path("t")


def test_trusted_folders_may_hold_pem_and_der_and_other_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "own" / "c.der", tmp_path / "own" / "k.pem"
    pki.make_self_signed(cert, key, "urn:test:server", "Test Server/1", server=True)
    der = cert.read_bytes()
    folder = tmp_path / "trusted"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a certificate")
    (folder / "broken.der").write_bytes(b"garbage")
    assert pki.trusted(der, folder) is None
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    (folder / "server.pem").write_bytes(pem)
    assert pki.trusted(der, folder) == folder / "server.pem"
    assert pki.file_name_for(der) == f"Test_Server_1_{pki.thumbprint(der)}.der"
    assert pki.trusted(der, tmp_path / "missing") is None


def test_the_server_certificate_of_an_endpoint_drops_a_chain(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.der", tmp_path / "k.pem"
    pki.make_self_signed(cert, key, "urn:test:server", "server", server=True)
    der = cert.read_bytes()
    chained = ua.EndpointDescription(ServerCertificate=der + der)
    assert server_certificate(chained) == der
