"""Google-style ID tokens (RS256 JWTs) verified with the standard library alone: what `/_refresh` trusts.

The Pub/Sub push of a `refresh: pointer` endpoint carries `Authorization: Bearer <ID token>` of the endpoint's
runtime service account, audience the function URL (infra/gcp.py). `verify` accepts a token only if:

- it is a JWT of three base64url parts whose header says `alg: RS256` (no "none", no HMAC);
- its `iss` is a trusted issuer: Google (`https://accounts.google.com`, or the bare `accounts.google.com` Google
  also uses), or the extra issuer the local stack names (`Issuer`);
- its `aud` is one of the function's own URLs (compared without a trailing "/"), its `email` the function's own
  runtime account, `email_verified` not false, `exp` not past and `iat` not ahead (`CLOCK_SKEW_S` either way);
- its signature verifies against the issuer's JWK set: RSASSA-PKCS1-v1_5 with SHA-256, i.e. `pow(sig, e, n)` must
  be `00 01 ff..ff 00 || DigestInfo(SHA-256) || sha256(header.payload)` (RFC 8017 8.2.2 / 9.2), compared in
  constant time; the key is the JWK whose `kid` the header names. Google's keys are at
  `https://www.googleapis.com/oauth2/v3/certs`.

Cloud Run verifies a Google-signed ID token before the request reaches the container and then replaces its
signature with `SIGNATURE_REMOVED_BY_GOOGLE` (its service-to-service documentation, quoted in
owainlewis/machinist#277). Such a token cannot be verified here; it is accepted only when the caller says the
platform verified it (`trust_stripped`: a private function, whose invoker check Cloud Run made), and then every
claim above is still checked. On a public function anyone may send a token whose last part is that text, so a
stripped token is refused there. The token read is the one Cloud Run checks (`bearer`): `X-Serverless-Authorization`
when the request has one (Cloud Run then passes `Authorization` on without checking it), else `Authorization`.

`JwksCache` fetches an issuer's keys lazily (the first token that needs them), keeps them `ttl_s` seconds (or the
response's `Cache-Control: max-age`, if shorter), and fetches again for an unknown `kid` at most once per
`MIN_REFETCH_S` (a caller sending made-up key ids cannot make the function fetch on every request). `fetch` and
`clock` are arguments, so tests serve keys from memory and fix the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
# DER of DigestInfo { AlgorithmIdentifier { sha256, NULL }, OCTET STRING (32 bytes) } before the digest itself.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
CLOCK_SKEW_S = 30
CERTS_TTL_S = 3600
MIN_REFETCH_S = 60
MAX_TOKEN_CHARS = 8192
_MAX_AGE = re.compile(r"max-age=(\d+)")

Fetch = Callable[[str], tuple[bytes, int | None]]  # url -> (body, max-age seconds from Cache-Control, if any)


class TokenError(Exception):
    """The token is not one this function trusts (the message says which check failed)."""


def b64url_decode(part: str) -> bytes:
    """A base64url string without padding, decoded; TokenError if it is not one."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", part):
        raise TokenError("not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("not base64url") from None


def _int(part: Any, what: str) -> int:
    if not isinstance(part, str) or not part:
        raise TokenError(f"JWK {what} missing")
    return int.from_bytes(b64url_decode(part), "big")


def rs256_verify(n: int, e: int, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is the RSASSA-PKCS1-v1_5 SHA-256 signature of `message` by the public key (n, e)."""
    k = (n.bit_length() + 7) // 8
    if k < 128 or len(signature) != k:  # RSA keys of at least 1024 bits; the signature is exactly k bytes
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    encoded = pow(s, e, n).to_bytes(k, "big")
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(encoded, expected)


def _http_fetch(url: str) -> tuple[bytes, int | None]:
    """GET `url` (5 s timeout): the body and Cache-Control's max-age."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:
        body = resp.read(1 << 20)
        found = _MAX_AGE.search(resp.headers.get("Cache-Control") or "")
    return body, int(found.group(1)) if found else None


class JwksCache:
    """The RSA keys of one issuer's JWK set (`{"keys": [{"kid", "kty": "RSA", "n", "e"}, ...]}`), by key id."""

    def __init__(self, url: str, *, fetch: Fetch | None = None, clock: Callable[[], float] = time.time,
                 ttl_s: float = CERTS_TTL_S) -> None:
        self.url = url
        self._fetch = fetch or _http_fetch
        self._clock = clock
        self._ttl_s = ttl_s
        self._keys: dict[str, tuple[int, int]] = {}
        self._expires = 0.0
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def _load(self, now: float) -> None:
        try:
            body, max_age = self._fetch(self.url)
            doc = json.loads(body)
        except (OSError, ValueError) as exc:
            raise TokenError(f"cannot fetch the issuer's keys from {self.url}: {type(exc).__name__}") from None
        keys: dict[str, tuple[int, int]] = {}
        for jwk in doc.get("keys", []) if isinstance(doc, dict) else []:
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and isinstance(jwk.get("kid"), str) \
                    and jwk.get("alg", "RS256") == "RS256":
                keys[jwk["kid"]] = (_int(jwk.get("n"), "n"), _int(jwk.get("e"), "e"))
        self.fetches += 1
        self._keys, self._fetched_at = keys, now
        self._expires = now + min(self._ttl_s, max_age if max_age is not None else self._ttl_s)

    def key(self, kid: str) -> tuple[int, int]:
        """(n, e) of key `kid`, fetching the set when there is none yet, it expired, or `kid` is new to it (at most
        once per MIN_REFETCH_S for the last reason); TokenError if the issuer has no such key."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now >= self._expires
            unknown = kid not in self._keys and (self._fetched_at is None or now - self._fetched_at >= MIN_REFETCH_S)
            if stale or unknown:
                self._load(now)
            found = self._keys.get(kid)
        if found is None:
            raise TokenError(f"the issuer has no key {kid!r}")
        return found


class Issuer(NamedTuple):
    """A trusted issuer: its `iss` values and its keys."""

    names: tuple[str, ...]
    keys: JwksCache


def google_issuer(fetch: Fetch | None = None, clock: Callable[[], float] = time.time) -> Issuer:
    """Google, the issuer of the Pub/Sub push's ID tokens in the cloud."""
    return Issuer(GOOGLE_ISSUERS, JwksCache(GOOGLE_CERTS_URL, fetch=fetch, clock=clock))


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, str]:
    """(header, claims, signing input, signature part) of a compact JWT; TokenError if it is not one."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenError("not a JWT")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT (three dot-separated parts)")
    try:
        header, claims = (json.loads(b64url_decode(p)) for p in parts[:2])
    except (ValueError, UnicodeDecodeError):
        raise TokenError("not a JWT (its header or payload is not JSON)") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("not a JWT (its header or payload is not an object)")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), parts[2]


def _audiences(value: Any) -> list[str]:
    """`aud` as a list (a JWT may carry one audience or several)."""
    if isinstance(value, str):
        return [value]
    return [a for a in value if isinstance(a, str)] if isinstance(value, list) else []


def _check_claims(claims: Mapping[str, Any], audiences: Sequence[str], email: str, now: float) -> None:
    wanted = {a.rstrip("/") for a in audiences if a}
    if not wanted or not any(a.rstrip("/") in wanted for a in _audiences(claims.get("aud"))):
        raise TokenError(f"audience {claims.get('aud')!r} is not this function's URL")
    if not email or not isinstance(claims.get("email"), str) or claims["email"].lower() != email.lower():
        raise TokenError(f"email {claims.get('email')!r} is not this function's runtime account")
    if claims.get("email_verified") is False or claims.get("email_verified") == "false":
        raise TokenError("email_verified is false")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp + CLOCK_SKEW_S < now:
        raise TokenError("expired" if isinstance(exp, int | float) else "no exp")
    if isinstance(iat, int | float) and not isinstance(iat, bool) and iat - CLOCK_SKEW_S > now:
        raise TokenError("issued in the future")


def verify(token: str, *, issuers: Sequence[Issuer], audiences: Sequence[str], email: str,
           trust_stripped: bool = False, now: float | None = None) -> dict[str, Any]:
    """The claims of `token` if it passes every check of this module's docstring, else TokenError saying why."""
    header, claims, signing_input, signature = decode(token)
    if header.get("alg") != "RS256":
        raise TokenError(f"algorithm {header.get('alg')!r} is not RS256")
    issuer = next((i for i in issuers if claims.get("iss") in i.names), None)
    if issuer is None:
        raise TokenError(f"issuer {claims.get('iss')!r} is not trusted")
    _check_claims(claims, audiences, email, time.time() if now is None else now)
    if signature == SIGNATURE_REMOVED:
        if not trust_stripped:
            raise TokenError("its signature was removed and this function cannot rely on the platform's check")
        return claims
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("no key id (kid) in the header")
    n, e = issuer.keys.key(kid)
    if not rs256_verify(n, e, signing_input, b64url_decode(signature)):
        raise TokenError("bad signature")
    return claims


def bearer(headers: Mapping[str, str]) -> str | None:
    """The bearer token Cloud Run checks (header names lower-case): `X-Serverless-Authorization` when present (Cloud
    Run then checks that one and passes `Authorization` on unchecked), else `Authorization`; None without one."""
    value = headers.get("x-serverless-authorization") or headers.get("authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
