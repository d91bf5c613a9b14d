"""Passkeys: attach a WebAuthn credential to an identity, and sign in with it elsewhere.

Two ceremonies (W3C Web Authentication, Level 3), each an HTTP round trip in two steps: the
browser asks for options, hands them to ``navigator.credentials``, and sends back what the
authenticator made. *Registration* (§7.1) is for a signed-in user and carries the resume
token (``Authorization: Bearer``); its challenge is bound to that login. *Sign-in* (§7.2)
needs nothing: the credential is discoverable, the authenticator names it, and a verified
assertion makes a new login of its user (``Archive.add_login``), whose token the browser
then connects with: the same user id, rooms, DMs, contacts and host powers.

Every challenge is stored in the archive, one-time and short-lived, so any process may
answer the second step (docs/security.md, "Passkeys"). Checking the answer is the
``webauthn`` library's (py_webauthn); what it would only say in an exception message is
checked here first, so the client hears a code of its own: ``stale_challenge``,
``bad_origin``, ``unknown_credential``, ``sign_count``; the rest is ``verification_failed``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
import webauthn
from aiohttp import web
from webauthn.helpers import options_to_json_dict, parse_authenticator_data
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from . import keys
from .archive import Archive, Challenge, Login, NewLogin, Purpose, StoredPasskey
from .clock import now_ms
from .config import Settings
from .errors import Code, ProtocolError, bad_request, forbidden, too_large
from .events import client_address
from .limits import Limits
from .logins import label
from .protocol import TITLE_MAX, clean_name
from .protocol import decode as decode_payload
from .sessions import Sessions

log = logging.getLogger(__name__)

BODY_MAX = 64 * 1024
"""Largest request body: an attestation with a certificate chain is a few KiB."""
PASSKEYS_MAX = 20
"""Passkeys one person may attach."""
_B64_MAX = 16 * 1024
_ID_MAX = 1400
"""A credential id is at most 1023 bytes (§5.8.3), 1364 in base64url."""
_TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)

Base64Url = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]*={0,2}$", max_length=_B64_MAX)]
CredentialId = Annotated[
    str, msgspec.Meta(pattern="^[A-Za-z0-9_-]+={0,2}$", min_length=1, max_length=_ID_MAX)
]

Transport = Annotated[str, msgspec.Meta(max_length=32)]
Transports = Annotated[list[Transport], msgspec.Meta(max_length=8)]


class AttestationResponse(msgspec.Struct):
    client_data_json: Base64Url = msgspec.field(name="clientDataJSON")
    attestation_object: Base64Url = msgspec.field(name="attestationObject")
    transports: Transports = []


class RegistrationCredential(msgspec.Struct):
    """``PublicKeyCredential.toJSON()`` of ``navigator.credentials.create`` (§5.1)."""

    id: CredentialId
    raw_id: CredentialId = msgspec.field(name="rawId")
    type: str
    response: AttestationResponse


class Register(msgspec.Struct):
    credential: RegistrationCredential
    name: str | None = None
    """What to call it; unset: the browser and system the request came from."""


class AssertionResponse(msgspec.Struct):
    client_data_json: Base64Url = msgspec.field(name="clientDataJSON")
    authenticator_data: Base64Url = msgspec.field(name="authenticatorData")
    signature: Base64Url
    user_handle: Base64Url | None = msgspec.field(name="userHandle", default=None)


class AuthenticationCredential(msgspec.Struct):
    """``PublicKeyCredential.toJSON()`` of ``navigator.credentials.get`` (§5.1)."""

    id: CredentialId
    raw_id: CredentialId = msgspec.field(name="rawId")
    type: str
    response: AssertionResponse


class SignIn(msgspec.Struct):
    credential: AuthenticationCredential


class Rename(msgspec.Struct):
    name: str


class Empty(msgspec.Struct):
    pass


class PasskeyInfo(msgspec.Struct):
    """A passkey as its owner sees it."""

    id: str
    name: str
    created: int
    last_used: int | None
    transports: list[str]


class ClientData(msgspec.Struct):
    """What is read of ``clientDataJSON`` before the library checks all of it (§5.8.1)."""

    type: str
    challenge: Annotated[str, msgspec.Meta(max_length=512)]
    origin: Annotated[str, msgspec.Meta(max_length=2048)]


_STATUS = {
    Code.BAD_REQUEST: 400,
    Code.TOO_LARGE: 413,
    Code.UNAUTHORIZED: 401,
    Code.FORBIDDEN: 403,
    Code.NOT_FOUND: 404,
    Code.UNKNOWN_CREDENTIAL: 404,
    Code.RATE_LIMITED: 429,
    Code.STALE_CHALLENGE: 400,
    Code.BAD_ORIGIN: 400,
    Code.SIGN_COUNT: 400,
    Code.VERIFICATION_FAILED: 400,
}

Route = Callable[[web.Request], Awaitable[object]]


class Passkeys:
    def __init__(
        self, settings: Settings, archive: Archive, sessions: Sessions, limits: Limits
    ) -> None:
        self._settings = settings
        self._archive = archive
        self._sessions = sessions
        self._lifetime_ms = int(settings.passkey_challenge_seconds * 1000)
        per_address = settings.passkey_requests_per_minute
        self._by_address = limits.limiter("passkey-address", per_address / 60, per_address)
        attempts = settings.passkey_attempts_per_minute
        self._by_key = limits.limiter("passkey-key", attempts / 60, attempts)

    def add_routes(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/api/passkeys", self._route(self.list_mine))
        router.add_post("/api/passkeys/register/options", self._route(self.register_options))
        router.add_post("/api/passkeys/register", self._route(self.register))
        router.add_patch("/api/passkeys/{id}", self._route(self.rename))
        router.add_delete("/api/passkeys/{id}", self._route(self.remove))
        router.add_post("/api/passkeys/signin/options", self._route(self.sign_in_options))
        router.add_post("/api/passkeys/signin", self._route(self.sign_in))

    def _route(self, handler: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The one edge of every passkey route: the address's budget first, then the handler;
        a refusal is ``{"error": {code, message}}`` with its HTTP status. ``Unavailable``
        passes on to ``api``'s middleware (503)."""

        async def route(request: web.Request) -> web.Response:
            try:
                if not await self._by_address.allow(_address(request, self._settings)):
                    raise ProtocolError(
                        Code.RATE_LIMITED, "too many passkey requests from your address; wait"
                    )
                return _json(await handler(request))
            except ProtocolError as exc:
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("passkeys %s refused: %s %s", request.path, exc.code, exc.message)
                return _json({"error": {"code": exc.code.value, "message": exc.message}},
                             _STATUS.get(exc.code, 400))  # fmt: skip

        return route

    # -- the owner's passkeys ------------------------------------------------------------

    async def list_mine(self, request: web.Request) -> object:
        user = (await self._signed_in(request)).user
        return {"passkeys": [_info(passkey) for passkey in await self._archive.passkeys(user.id)]}

    async def rename(self, request: web.Request) -> object:
        user = (await self._signed_in(request)).user
        name = clean_name((await _body(request, Rename)).name, "name", TITLE_MAX)
        if not await self._archive.rename_passkey(user.id, request.match_info["id"], name):
            raise ProtocolError(Code.NOT_FOUND, "no such passkey")
        return {"ok": True}

    async def remove(self, request: web.Request) -> object:
        user = (await self._signed_in(request)).user
        passkey = request.match_info["id"]
        if not await self._archive.remove_passkey(user.id, passkey):
            raise ProtocolError(Code.NOT_FOUND, "no such passkey")
        log.info("user=%s removed passkey=%s", user.id, passkey)
        return {"ok": True}

    # -- registration (§7.1) -------------------------------------------------------------

    async def register_options(self, request: web.Request) -> object:
        login = await self._signed_in(request)
        user = login.user
        await self._attempt(f"u:{user.id}")
        attached = await self._archive.passkeys(user.id)
        if len(attached) >= PASSKEYS_MAX:
            raise forbidden(f"you have {PASSKEYS_MAX} passkeys; remove one first")
        rp_id, _ = self._relying_party(request)
        challenge = await self._challenge(Purpose.REGISTER, user.id, login.id)
        options = webauthn.generate_registration_options(
            rp_id=rp_id,
            rp_name=self._settings.passkey_rp_name,
            user_id=user.id.encode(),
            user_name=user.name,
            user_display_name=user.name,
            challenge=challenge,
            timeout=self._lifetime_ms,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[_descriptor(passkey) for passkey in attached],
        )
        return {"options": options_to_json_dict(options)}

    async def register(self, request: web.Request) -> object:
        login = await self._signed_in(request)
        user = login.user
        await self._attempt(f"u:{user.id}")
        body = await _body(request, Register)
        name = (
            clean_name(body.name, "name", TITLE_MAX)
            if body.name is not None
            else label(request.headers.get("User-Agent", ""))
        )
        credential = body.credential
        rp_id, origins = self._relying_party(request)
        client = _client_data(credential.response.client_data_json, "webauthn.create", origins)
        challenge = await self._take(client.challenge, Purpose.REGISTER)
        if challenge.login_id != login.id:
            raise ProtocolError(
                Code.STALE_CHALLENGE, "this challenge was issued to another session"
            )
        try:
            verified = webauthn.verify_registration_response(
                credential=msgspec.to_builtins(credential),
                expected_challenge=_bytes(challenge.value),
                expected_rp_id=rp_id,
                expected_origin=origins,
            )
        except _REFUSED as exc:
            raise _failed(exc) from None
        now = now_ms()
        passkey = StoredPasskey(
            id=keys.new_id("k"),
            credential_id=_b64(verified.credential_id),
            user_id=user.id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=name,
            transports=tuple(t for t in credential.response.transports if t in _TRANSPORTS),
            created_at=now,
        )
        if not await self._archive.add_passkey(passkey):
            raise bad_request("this passkey is attached already")
        log.info("user=%s attached passkey=%s", user.id, passkey.id)
        return {"passkey": _info(passkey)}

    # -- sign-in (§7.2) ------------------------------------------------------------------

    async def sign_in_options(self, request: web.Request) -> object:
        rp_id, _ = self._relying_party(request)
        challenge = await self._challenge(Purpose.SIGN_IN, None, None)
        # No allowCredentials: the authenticator offers the discoverable credentials it
        # holds for this RP ID, so the person need not say who they are.
        options = webauthn.generate_authentication_options(
            rp_id=rp_id,
            challenge=challenge,
            timeout=self._lifetime_ms,
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return {"options": options_to_json_dict(options)}

    async def sign_in(self, request: web.Request) -> object:
        credential = (await _body(request, SignIn)).credential
        await self._attempt(f"c:{credential.id}")
        rp_id, origins = self._relying_party(request)
        response = credential.response
        client = _client_data(response.client_data_json, "webauthn.get", origins)
        challenge = await self._take(client.challenge, Purpose.SIGN_IN)
        passkey = await self._archive.passkey_by_credential(credential.id)
        if passkey is None:
            raise ProtocolError(
                Code.UNKNOWN_CREDENTIAL, "this passkey is not attached to anybody here"
            )
        # §7.2 step 6: the user handle, when given, names the credential's owner.
        if response.user_handle and _bytes(response.user_handle) != passkey.user_id.encode():
            raise ProtocolError(Code.VERIFICATION_FAILED, "the passkey's user does not match")
        counted = _sign_count(response.authenticator_data)
        if (counted or passkey.sign_count) and counted <= passkey.sign_count:
            raise _count_did_not_grow()
        try:
            verified = webauthn.verify_authentication_response(
                credential=msgspec.to_builtins(credential),
                expected_challenge=_bytes(challenge.value),
                expected_rp_id=rp_id,
                expected_origin=origins,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
            )
        except _REFUSED as exc:
            raise _failed(exc) from None
        now = now_ms()
        # Conditional on the count: of two sign-ins racing on two processes, one wins.
        if not await self._archive.use_passkey(passkey.id, verified.new_sign_count, now):
            raise _count_did_not_grow()
        user = await self._archive.get_user(passkey.user_id)
        if user is None:
            raise ProtocolError(Code.UNKNOWN_CREDENTIAL, "this passkey's identity is gone")
        token = keys.new_token()
        device = label(request.headers.get("User-Agent", ""))
        login = NewLogin(id=keys.new_id("s"), token_digest=keys.digest(token), label=device, at=now)
        await self._archive.add_login(user.id, login)
        log.info("user=%s signed in with passkey=%s session=%s", user.id, passkey.id, login.id)
        return {"user": user, "token": token}

    # -- parts ---------------------------------------------------------------------------

    async def _signed_in(self, request: web.Request) -> Login:
        return await self._sessions.bearer(request.headers.get("Authorization"))

    async def _attempt(self, key: str) -> None:
        if not await self._by_key.allow(key):
            raise ProtocolError(Code.RATE_LIMITED, "too many passkey attempts; wait a minute")

    async def _challenge(self, purpose: Purpose, user: str | None, login: str | None) -> bytes:
        value = keys.random_bytes(32)
        now = now_ms()
        stored = Challenge(_b64(value), purpose, now + self._lifetime_ms, user, login)
        await self._archive.add_challenge(stored, now)
        return value

    async def _take(self, value: str, purpose: Purpose) -> Challenge:
        """The challenge the client's answer signed, taken so it cannot be used again."""
        challenge = await self._archive.take_challenge(value)
        if challenge is None or challenge.purpose != purpose:
            raise ProtocolError(
                Code.STALE_CHALLENGE, "this challenge is unknown or used already; start again"
            )
        if challenge.expires_at < now_ms():
            raise ProtocolError(Code.STALE_CHALLENGE, "this challenge expired; start again")
        return challenge

    def _relying_party(self, request: web.Request) -> tuple[str, list[str]]:
        """The RP ID and the origins a ceremony may come from: the settings', else the
        request's own host (development on localhost; in production set them:
        docs/deployment.md, "Passkeys")."""
        settings = self._settings
        rp_id = settings.passkey_rp_id or (request.url.host or "")
        scheme = request.scheme
        if request.remote in settings.trusted_proxies:
            # Behind the documented proxy, which terminates TLS and says so.
            scheme = request.headers.get("X-Forwarded-Proto", scheme)
        origins = list(settings.passkey_origins) or [f"{scheme}://{request.host}"]
        return rp_id, [origin.rstrip("/") for origin in origins]


_REFUSED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)
"""What the library raises for a response it refuses; hostile CBOR may surface as a plain
``ValueError`` or ``KeyError`` from inside its parsers, which is the client's fault too."""


def _failed(exc: Exception) -> ProtocolError:
    log.info("passkey verification failed: %s", exc)
    message = str(exc).split(". See __cause__")[0][:200] or "the passkey's answer does not verify"
    return ProtocolError(Code.VERIFICATION_FAILED, message)


def _count_did_not_grow() -> ProtocolError:
    return ProtocolError(
        Code.SIGN_COUNT, "the passkey's signature counter did not grow: a replay or a copied key"
    )


def _client_data(encoded: str, kind: str, origins: list[str]) -> ClientData:
    """``clientDataJSON``'s type, challenge and origin, checked for a clear refusal."""
    try:
        client = msgspec.json.decode(_bytes(encoded), type=ClientData)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise bad_request(f"clientDataJSON is not the browser's client data: {exc}") from None
    if client.type != kind:
        raise bad_request(f"clientDataJSON's type must be {kind}")
    if client.origin not in origins:
        raise ProtocolError(Code.BAD_ORIGIN, f"passkeys here are made and used at {origins[0]}")
    return client


def _sign_count(encoded: str) -> int:
    try:
        return parse_authenticator_data(_bytes(encoded)).sign_count
    except (WebAuthnException, ValueError, IndexError) as exc:
        raise bad_request(f"authenticatorData is malformed: {exc}") from None


async def _body(request: web.Request, kind: type[Any]) -> Any:
    """The request's JSON body as ``kind``, or ``bad_request`` / ``too_large``."""
    if request.content_length is not None and request.content_length > BODY_MAX:
        raise too_large(f"the body must be at most {BODY_MAX} bytes")
    body = b""
    while len(body) <= BODY_MAX:
        chunk = await request.content.read(BODY_MAX + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > BODY_MAX:
        raise too_large(f"the body must be at most {BODY_MAX} bytes")
    try:
        payload = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        raise bad_request("the body must be JSON") from None
    return decode_payload(payload, kind)


def _bytes(encoded: str) -> bytes:
    """base64url, padded or not (RFC 4648 §5)."""
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise bad_request("a base64url field is malformed") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _descriptor(passkey: StoredPasskey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in passkey.transports if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(
        id=_bytes(passkey.credential_id), transports=transports or None
    )


def _info(passkey: StoredPasskey) -> PasskeyInfo:
    return PasskeyInfo(
        passkey.id, passkey.name, passkey.created_at, passkey.used_at, list(passkey.transports)
    )


def _address(request: web.Request, settings: Settings) -> str:
    environ = {
        "REMOTE_ADDR": request.remote or "",
        "HTTP_X_FORWARDED_FOR": request.headers.get("X-Forwarded-For", ""),
    }
    return client_address(environ, settings.trusted_proxies)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )
