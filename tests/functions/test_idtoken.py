"""functions/idtoken.py: RS256 ID tokens verified with the standard library alone (what `/_refresh` trusts).

Tokens are signed here with `cryptography` and with google-auth (as `smodels.client.mint_id_token` signs the local
issuer's); the keys are served from memory (no network), and every time is an explicit timestamp.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from functions import idtoken
from functions.idtoken import Issuer, JwksCache, TokenError, rs256_verify, verify

NOW = 1_900_000_000.0
URL = "https://us-central1-proj.cloudfunctions.net/sm-dev-a9c9df74-pred"
SA = "sm-dev-a9c9df74-pred@proj.iam.gserviceaccount.com"
CERTS = "https://certs.example/keys"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    pub = key.public_key().public_numbers()
    n = pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": _b64(n), "e": _b64(pub.e.to_bytes(3, "big"))}


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("k1", "k2")}


def _claims(**over: Any) -> dict[str, Any]:
    claims = {"iss": "https://accounts.google.com", "aud": URL, "azp": SA, "sub": "1234", "email": SA,
              "email_verified": True, "iat": int(NOW) - 60, "exp": int(NOW) + 3540}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str = "k1", alg: str = "RS256") -> str:
    head = _b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(sig)}"


class Served:
    """An issuer's JWK set served from memory: counts fetches, answers with `max_age`."""

    def __init__(self, jwks: list[dict[str, str]], max_age: int | None = None) -> None:
        self.jwks, self.max_age, self.urls = jwks, max_age, []

    def __call__(self, url: str) -> tuple[bytes, int | None]:
        self.urls.append(url)
        return json.dumps({"keys": self.jwks}).encode(), self.max_age


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _google(keys: dict[str, rsa.RSAPrivateKey], clock: Clock | None = None, **kw: Any) -> tuple[Issuer, Served]:
    served = Served([_jwk(k, kid) for kid, k in keys.items()], **kw)
    return idtoken.google_issuer(fetch=served, clock=clock or Clock()), served


def _verify(token: str, issuer: Issuer, **kw: Any) -> dict[str, Any]:
    args = {"issuers": [issuer], "audiences": [URL], "email": SA, "now": NOW, **kw}
    return verify(token, **args)


def test_the_push_token_verifies(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    issuer, served = _google(keys)
    assert _verify(_token(keys["k2"], _claims(), kid="k2"), issuer)["email"] == SA
    assert served.urls == [idtoken.GOOGLE_CERTS_URL]
    # The audience as the subscription names it, with or without a trailing slash; the bare Google issuer name.
    assert _verify(_token(keys["k1"], _claims(aud=URL + "/", iss="accounts.google.com")), issuer)


@pytest.mark.parametrize(("change", "why"), [
    ({"aud": "https://us-central1-proj.cloudfunctions.net/other"}, "audience"),
    ({"aud": URL + "/_refresh"}, "audience"),
    ({"email": "eve@example.com", "sub": "eve"}, "email"),
    ({"email": None}, "email"),
    ({"email_verified": False}, "email_verified"),
    ({"iss": "https://evil.example"}, "issuer"),
    ({"exp": int(NOW) - idtoken.CLOCK_SKEW_S - 1}, "expired"),
    ({"exp": None}, "no exp"),
    ({"iat": int(NOW) + idtoken.CLOCK_SKEW_S + 60}, "future"),
])
def test_claims_other_than_the_pushs_are_refused(keys: dict[str, rsa.RSAPrivateKey], change: dict[str, Any],
                                                 why: str) -> None:
    issuer, _ = _google(keys)
    with pytest.raises(TokenError, match=why):
        _verify(_token(keys["k1"], _claims(**change)), issuer)


def test_signatures_that_are_not_the_issuers_are_refused(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    issuer, _ = _google({"k1": keys["k1"]})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenError, match="bad signature"):
        _verify(_token(other, _claims()), issuer)  # another key, claiming the issuer's key id
    head, _, sig = _token(keys["k1"], _claims()).split(".")
    forged = _b64(json.dumps(_claims(email="eve@example.com")).encode())
    with pytest.raises(TokenError, match="email"):
        _verify(f"{head}.{forged}.{sig}", issuer)
    tampered = _b64(json.dumps(_claims(exp=int(NOW) + 7200)).encode())  # every claim fine, but not what was signed
    with pytest.raises(TokenError, match="bad signature"):
        _verify(f"{head}.{tampered}.{sig}", issuer)
    with pytest.raises(TokenError, match="no key"):
        _verify(_token(keys["k2"], _claims(), kid="k2"), issuer)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS512"])
def test_only_rs256(keys: dict[str, rsa.RSAPrivateKey], alg: str) -> None:
    issuer, _ = _google(keys)
    with pytest.raises(TokenError, match="not RS256"):
        _verify(_token(keys["k1"], _claims(), alg=alg), issuer)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!.e30.x", "e30.bm90IGpzb24.x", "W10.e30.x",
                                   "x" * (idtoken.MAX_TOKEN_CHARS + 1)])
def test_what_is_not_a_jwt_is_refused(keys: dict[str, rsa.RSAPrivateKey], token: str) -> None:
    issuer, served = _google(keys)
    with pytest.raises(TokenError):
        _verify(token, issuer)
    assert served.urls == []  # no key was fetched for it


def test_a_stripped_signature_is_trusted_only_where_the_platform_checked(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    issuer, served = _google(keys)
    head, body, _ = _token(keys["k1"], _claims()).split(".")
    stripped = f"{head}.{body}.{idtoken.SIGNATURE_REMOVED}"
    with pytest.raises(TokenError, match="signature was removed"):
        _verify(stripped, issuer)  # a public function: anyone can write that text
    assert _verify(stripped, issuer, trust_stripped=True)["email"] == SA
    bad = _b64(json.dumps(_claims(email="alice@example.com")).encode())
    with pytest.raises(TokenError, match="email"):  # the claims are still checked: an invoker is not the push
        _verify(f"{head}.{bad}.{idtoken.SIGNATURE_REMOVED}", issuer, trust_stripped=True)
    assert served.urls == []


def test_keys_are_fetched_lazily_and_cached_with_a_ttl(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    clock = Clock()
    issuer, served = _google(keys, clock)
    assert served.urls == []  # nothing fetched until a token needs a key
    token = _token(keys["k1"], _claims())
    for _ in range(3):
        _verify(token, issuer)
    assert issuer.keys.fetches == 1
    clock.t += idtoken.CERTS_TTL_S + 1
    _verify(token, issuer, now=clock.t - 60)
    assert issuer.keys.fetches == 2
    short = JwksCache(CERTS, fetch=Served([_jwk(keys["k1"], "k1")], max_age=120), clock=clock)
    short.key("k1")
    clock.t += 121
    short.key("k1")
    assert short.fetches == 2  # Cache-Control max-age shorter than the TTL wins


def test_made_up_key_ids_do_not_make_it_fetch_each_time(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    clock = Clock()
    cache = JwksCache(CERTS, fetch=Served([_jwk(keys["k1"], "k1")]), clock=clock)
    cache.key("k1")
    for i in range(5):
        with pytest.raises(TokenError, match="no key"):
            cache.key(f"made-up-{i}")
    assert cache.fetches == 1
    clock.t += idtoken.MIN_REFETCH_S
    with pytest.raises(TokenError):
        cache.key("rotated-in")
    assert cache.fetches == 2  # a new key id is looked for again, once a minute


def test_an_unreachable_issuer_is_a_token_error(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    def down(url: str) -> tuple[bytes, int | None]:
        raise OSError("connection refused")

    issuer = idtoken.google_issuer(fetch=down, clock=Clock())
    with pytest.raises(TokenError, match="cannot fetch"):
        _verify(_token(keys["k1"], _claims()), issuer)


def test_rs256_matches_cryptography_and_google_auth(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    from cryptography.hazmat.primitives import serialization
    from google.auth import crypt, jwt

    pub = keys["k1"].public_key().public_numbers()
    for message in (b"", b"a", b"header.payload" * 50):
        sig = keys["k1"].sign(message, padding.PKCS1v15(), hashes.SHA256())
        assert rs256_verify(pub.n, pub.e, message, sig)
        assert not rs256_verify(pub.n, pub.e, message + b"x", sig)
        assert not rs256_verify(pub.n, pub.e, message, sig[:-1])  # the wrong length
        assert not rs256_verify(pub.n, pub.e, message, (pub.n + 1).to_bytes(256, "big"))  # s >= n
        pss = keys["k1"].sign(message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        assert not rs256_verify(pub.n, pub.e, message, pss)  # another padding
    pem = keys["k1"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    signed = jwt.encode(crypt.RSASigner.from_string(pem, key_id="k1"), _claims()).decode()
    issuer, _ = _google(keys)
    assert _verify(signed, issuer)["aud"] == URL


def test_bearer_reads_the_header_cloud_run_checks() -> None:
    assert idtoken.bearer({"authorization": "Bearer a.b.c"}) == "a.b.c"
    assert idtoken.bearer({"authorization": "Bearer forged", "x-serverless-authorization": "Bearer checked"}) == \
        "checked"
    for headers in ({}, {"authorization": "Basic abc"}, {"authorization": "Bearer "}, {"authorization": "x.y.z"}):
        assert idtoken.bearer(headers) is None
