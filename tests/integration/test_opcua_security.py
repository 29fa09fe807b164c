"""OPC UA security and identity (gateway.collectors.opcua.security) against the simulator's
OPC UA PLC on 127.0.0.1 (port 0), with certificates made once per test session (RSA key
generation is slow) and servers shared per module (an asyncua server takes ~1 s to start).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Client, Server, ua
from asyncua.common.utils import ServiceError
from asyncua.server.user_managers import CertificateUserManager
from cryptography import x509

from gateway.collectors.opcua import pki
from gateway.collectors.opcua.refusals import explain
from gateway.collectors.opcua.security import (
    NotOffered,
    Secret,
    SecurityError,
    SecuritySettings,
    UntrustedServerCertificate,
    configure,
    ensure_client_certificate,
    trust_server_certificate,
)
from simulators.opcua_plc import APPLICATION_URI, OpcUaPlc, node_id
from simulators.opcua_security import PlcSecurity, server_certificate
from simulators.ports import free_port
from simulators.process.plant import Plant

pytestmark = pytest.mark.integration
shared_loop = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "pa55-Word:with-colon"
USERS = {"operator": PASSWORD}
TAG = node_id("rectifier", "line_current")


@pytest.fixture(scope="session")
def pki_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One server certificate and one client certificate for the whole session."""
    root = tmp_path_factory.mktemp("opcua-pki")
    server_certificate(PlcSecurity(("all",), root / "server"), APPLICATION_URI, "127.0.0.1")
    ensure_client_certificate(SecuritySettings(state_dir=root / "client"))
    return root


def server_der(root: Path) -> bytes:
    return pki.load_der(root / "server" / "own" / "server_cert.der")


def settings(root: Path, trusted: bool = True, **changes: object) -> SecuritySettings:
    """Client settings using the session's client certificate; `trusted`: the server's
    certificate is in the trusted folder."""
    folder = root / "trusted"
    if trusted and not folder.is_dir():
        pki.store(server_der(root), folder)
    base = SecuritySettings(
        state_dir=root / "client",
        trusted_dir=folder if trusted else root / "untrusted",
        username="operator",
        password=Secret(PASSWORD),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def plc_with(root: Path, levels: tuple[str, ...], users: dict[str, str]) -> OpcUaPlc:
    plant = Plant(cells=1, seed=3)
    plc = OpcUaPlc(
        plant, port=0, devices=["rectifier"], security=PlcSecurity(levels, root / "server", users)
    )
    await plc.start()
    return plc


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secured(pki_root: Path) -> AsyncIterator[OpcUaPlc]:
    """Every secured policy and mode, no None endpoint, only the listed users."""
    plc = await plc_with(pki_root, ("all",), USERS)
    yield plc
    await plc.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def signing(pki_root: Path) -> AsyncIterator[OpcUaPlc]:
    """None and Basic256Sha256 Sign, anyone may log in."""
    plc = await plc_with(pki_root, ("none", "sign"), {})
    yield plc
    await plc.stop()


async def read_tag(plc: OpcUaPlc, security: SecuritySettings) -> object:
    client = Client(plc.endpoint, timeout=10)
    await configure(client, security)
    async with client:
        return await client.get_node(ua.NodeId(TAG, plc.ns)).read_value()


@shared_loop
@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
@pytest.mark.parametrize(
    "policy", ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
)
async def test_each_policy_and_mode_reads_a_value(
    secured: OpcUaPlc, pki_root: Path, policy: str, mode: str
) -> None:
    value = await read_tag(secured, settings(pki_root, policy=policy, mode=mode))
    expected = await secured.server.get_node(ua.NodeId(TAG, secured.ns)).read_value()
    assert isinstance(value, float)
    assert value == expected


@shared_loop
async def test_wrong_password_is_refused_naming_the_server_answer(
    secured: OpcUaPlc, pki_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = settings(
        pki_root, policy="Basic256Sha256", mode="SignAndEncrypt", password=Secret("nope")
    )
    with pytest.raises(ua.UaStatusCodeError) as caught:
        await read_tag(secured, wrong)
    message = await explain(caught.value, url=secured.endpoint, settings=wrong)
    assert "BadUserAccessDenied" in message
    assert "'operator'" in message
    assert "nope" not in message
    assert "Traceback" not in message


@shared_loop
async def test_a_password_that_is_a_common_word_leaves_the_message_readable(
    secured: OpcUaPlc, pki_root: Path
) -> None:
    """Masking is for what others wrote (an error's text), not our own words: a password
    'wrong' must not turn "wrong user name or password" into "********** user name"."""
    wrong = settings(
        pki_root, policy="Basic256Sha256", mode="SignAndEncrypt", password=Secret("wrong")
    )
    with pytest.raises(ua.UaStatusCodeError) as caught:
        await read_tag(secured, wrong)
    message = await explain(caught.value, url=secured.endpoint, settings=wrong)
    assert "wrong user name or password" in message
    assert "*" not in message


@shared_loop
async def test_unknown_user_is_refused(secured: OpcUaPlc, pki_root: Path) -> None:
    stranger = settings(pki_root, policy="Basic256Sha256", mode="Sign", username="mallory")
    with pytest.raises(ua.UaStatusCodeError) as caught:
        await read_tag(secured, stranger)
    assert "BadUserAccessDenied" in await explain(caught.value, settings=stranger)


@shared_loop
async def test_anonymous_login_refused_when_users_are_listed(
    secured: OpcUaPlc, pki_root: Path
) -> None:
    anonymous = settings(
        pki_root, policy="Basic256Sha256", mode="Sign", username=None, password=None
    )
    with pytest.raises(NotOffered) as caught:
        await read_tag(secured, anonymous)
    assert str(caught.value) == (
        "server does not accept anonymous login on Basic256Sha256/Sign; "
        "it accepts: user name and password; set username and password"
    )


@shared_loop
async def test_a_policy_the_server_does_not_offer_lists_what_it_offers(
    signing: OpcUaPlc, pki_root: Path
) -> None:
    asked = settings(pki_root, policy="Aes256_Sha256_RsaPss", mode="SignAndEncrypt")
    with pytest.raises(NotOffered) as caught:
        await read_tag(signing, asked)
    message = await explain(caught.value, url=signing.endpoint, settings=asked)
    assert message == (
        "server does not offer Aes256_Sha256_RsaPss/SignAndEncrypt; "
        "it offers: None/None, Basic256Sha256/Sign"
    )


@shared_loop
async def test_untrusted_server_certificate_is_refused_naming_the_files(
    signing: OpcUaPlc, pki_root: Path, tmp_path: Path
) -> None:
    own = pki_root / "client" / "pki" / "own"
    fresh = SecuritySettings(
        state_dir=tmp_path / "state",
        policy="Basic256Sha256",
        mode="Sign",
        certificate=own / "client_cert.der",
        private_key=own / "client_key.pem",
    )
    with pytest.raises(UntrustedServerCertificate) as caught:
        await read_tag(signing, fresh)
    rejected = tmp_path / "state" / "pki" / "rejected" / pki.file_name_for(server_der(pki_root))
    trusted = tmp_path / "state" / "pki" / "trusted"
    assert str(caught.value) == (
        f"server certificate not trusted: saved it as {rejected}; move it to {trusted}/ to trust it"
    )
    assert rejected.read_bytes() == server_der(pki_root)
    assert await explain(caught.value, settings=fresh) == str(caught.value)
    # doing what the message says makes the next attempt succeed
    trusted.mkdir(parents=True)
    shutil.move(rejected, trusted / rejected.name)
    assert isinstance(await read_tag(signing, fresh), float)


@shared_loop
async def test_trust_server_certificate_stores_it_then_the_connection_succeeds(
    signing: OpcUaPlc, pki_root: Path, tmp_path: Path
) -> None:
    fresh = settings(pki_root, policy="Basic256Sha256", mode="Sign", trusted_dir=tmp_path / "t")
    with pytest.raises(UntrustedServerCertificate):
        await read_tag(signing, fresh)
    path = await trust_server_certificate(signing.endpoint, fresh)
    assert path is not None
    assert path.parent == tmp_path / "t"
    assert path.read_bytes() == server_der(pki_root)
    assert await trust_server_certificate(signing.endpoint, fresh) == path  # idempotent
    assert isinstance(await read_tag(signing, fresh), float)


@shared_loop
async def test_policy_none_anonymous_still_works(signing: OpcUaPlc, pki_root: Path) -> None:
    plain = settings(pki_root, username=None, password=None)
    assert await trust_server_certificate(signing.endpoint, plain) is None
    assert isinstance(await read_tag(signing, plain), float)


@shared_loop
async def test_password_never_in_repr_str_or_logs(
    secured: OpcUaPlc, pki_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("asyncua", "gateway"):
        caplog.set_level(logging.DEBUG, logger=name)
    good = settings(pki_root, policy="Basic256Sha256", mode="Sign")
    assert isinstance(await read_tag(secured, good), float)
    wrong = replace(good, password=Secret(PASSWORD + "x"))
    with pytest.raises(ua.UaStatusCodeError) as caught:
        await read_tag(secured, wrong)
    texts = [repr(good), str(good), repr(good.password), f"{good.password}", caplog.text]
    texts.append(await explain(caught.value, url=secured.endpoint, settings=wrong))
    assert caplog.text  # the capture did see asyncua's debug output
    for text in texts:
        assert PASSWORD not in text


@shared_loop
async def test_password_in_clear_over_policy_none_is_not_logged(
    signing: OpcUaPlc, pki_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The signing server has no encrypting endpoint, so on None the token is plain text."""
    for name in ("asyncua", "gateway", None):
        caplog.set_level(logging.DEBUG, logger=name)
    plain = settings(pki_root, password=Secret("only-in-the-token"))
    assert isinstance(await read_tag(signing, plain), float)
    assert "DEBUG" in caplog.text or caplog.records
    assert "only-in-the-token" not in caplog.text


@shared_loop
async def test_a_server_that_does_not_trust_the_client_certificate_is_named(
    pki_root: Path,
) -> None:
    plc = await plc_with(pki_root, ("sign",), {})

    async def refuse(cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    plc.server.set_certificate_validator(refuse)
    asked = settings(pki_root, policy="Basic256Sha256", mode="Sign", username=None, password=None)
    try:
        with pytest.raises(ua.UaStatusCodeError) as caught:
            await read_tag(plc, asked)
    finally:
        await plc.stop()
    own = pki_root / "client" / "pki" / "own" / "client_cert.der"
    assert await explain(caught.value, url=plc.endpoint, settings=asked) == (
        f"{plc.endpoint} does not accept {own} (BadCertificateUntrusted); "
        "add it to the server's trusted certificates"
    )


@shared_loop
async def test_a_session_over_an_unsecured_channel_is_refused_and_explained(
    secured: OpcUaPlc, pki_root: Path
) -> None:
    """asyncua's client stops on its own before asking; other clients may try: the requests
    are sent by hand over a None channel."""
    client = Client(secured.endpoint, timeout=10)
    await client.connect_socket()
    try:
        await client.send_hello()
        await client.open_secure_channel()
        created = await client.uaclient.create_session(
            ua.CreateSessionParameters(
                EndpointUrl=secured.endpoint,
                SessionName="bypass",
                ClientNonce=b"n" * 32,
                RequestedSessionTimeout=10_000,
            )
        )
        assert created.AuthenticationToken is not None
        with pytest.raises(ua.UaStatusCodeError) as caught:
            await client.uaclient.activate_session(
                ua.ActivateSessionParameters(UserIdentityToken=ua.AnonymousIdentityToken())
            )
    finally:
        client.disconnect_socket()
    plain = settings(pki_root)
    offers = ", ".join(
        f"{p}/{m}"
        for p in ("Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")
        for m in ("Sign", "SignAndEncrypt")
    )
    assert await explain(caught.value, url=secured.endpoint, settings=plain) == (
        f"{secured.endpoint} refused None/None (BadSecurityPolicyRejected); it offers: {offers}"
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def x509_server(pki_root: Path) -> AsyncIterator[tuple[Server, str]]:
    """A plain asyncua server that takes only X.509 identities: the session's client
    certificate is its one known user."""
    users = CertificateUserManager()
    await users.add_user(pki_root / "client" / "pki" / "own" / "client_cert.der", name="plc-gw")
    server = Server(user_manager=users)
    await server.init()
    url = f"opc.tcp://127.0.0.1:{free_port('127.0.0.1')}"
    server.set_endpoint(url)
    await server.set_application_uri(APPLICATION_URI)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    server.set_identity_tokens([ua.X509IdentityToken])
    await server.load_certificate(str(pki_root / "server" / "own" / "server_cert.der"))
    await server.load_private_key(pki_root / "server" / "own" / "server_key.pem")
    await server.start()
    yield server, url
    await server.stop()


@shared_loop
async def test_an_x509_identity_logs_in_and_an_unknown_one_is_refused(
    x509_server: tuple[Server, str], pki_root: Path, tmp_path: Path
) -> None:
    _, url = x509_server
    own = pki_root / "client" / "pki" / "own"
    identity = settings(
        pki_root,
        policy="Basic256Sha256",
        mode="SignAndEncrypt",
        username=None,
        password=None,
        user_certificate=own / "client_cert.der",
        user_private_key=own / "client_key.pem",
    )
    client = Client(url, timeout=10)
    await configure(client, identity)
    async with client:
        assert await client.get_node(ua.ObjectIds.Server_ServerStatus_State).read_value() == 0
    stranger_cert, stranger_key = tmp_path / "other.der", tmp_path / "other.pem"
    pki.make_self_signed(stranger_cert, stranger_key, "urn:test:stranger", "stranger")
    stranger = replace(identity, user_certificate=stranger_cert, user_private_key=stranger_key)
    client = Client(url, timeout=10)
    await configure(client, stranger)
    with pytest.raises(ua.UaStatusCodeError) as caught:
        async with client:
            pass
    assert await explain(caught.value, url=url, settings=stranger) == (
        f"{url} refused X.509 identity {stranger_cert} (BadUserAccessDenied): "
        "unknown certificate, or not allowed"
    )
    with pytest.raises(NotOffered, match="server does not accept user name and password login"):
        await configure(
            Client(url), settings(pki_root, policy="Basic256Sha256", mode="SignAndEncrypt")
        )


@shared_loop
async def test_an_unreadable_supplied_certificate_is_a_security_error(
    signing: OpcUaPlc, pki_root: Path, tmp_path: Path
) -> None:
    bogus_cert, bogus_key = tmp_path / "c.der", tmp_path / "k.pem"
    bogus_cert.write_bytes(b"not a certificate")
    bogus_key.write_bytes(b"not a key")
    asked = settings(
        pki_root,
        policy="Basic256Sha256",
        mode="Sign",
        certificate=bogus_cert,
        private_key=bogus_key,
    )
    with pytest.raises(SecurityError) as caught:
        await configure(Client(signing.endpoint, timeout=10), asked)
    assert str(caught.value).startswith(f"cannot use certificate {bogus_cert} with key {bogus_key}")


@shared_loop
async def test_no_server_at_the_endpoint_is_said_plainly(pki_root: Path) -> None:
    url = f"opc.tcp://127.0.0.1:{free_port('127.0.0.1')}"  # nobody listens there
    plain = settings(pki_root)
    with pytest.raises(ConnectionRefusedError) as caught:
        await configure(Client(url, timeout=5), plain)
    assert await explain(caught.value, url=url, settings=plain) == (
        f"cannot connect to {url}: connection refused (is the server running?)"
    )
