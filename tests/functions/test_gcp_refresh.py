"""`POST /_refresh` trusts only the push (issue 20 part 4): functions/gcp.py verifies the Pub/Sub push's ID token.

Through the adapter itself (flask's test request, as functions-framework hands it over), with the issuers' keys
served from memory (no network) and explicit timestamps: only a token of a trusted issuer, for this function's URL,
of its own runtime account, reaches `app.refresh`; anything else is a JSON 403 `forbidden` and the pointer is not
re-read, so a caller of a public endpoint cannot make it re-read its pointer. A token whose signature Cloud Run
removed is taken only on a private function (REFRESH_PLATFORM_VERIFIED=1). The prediction path never imports the
verifier.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from functions import contract, idtoken

flask = pytest.importorskip("flask")
REPO = Path(__file__).resolve().parents[2]
URL = "https://us-central1-proj.cloudfunctions.net/sm-dev-a9c9df74-pred"
SA = "sm-dev-a9c9df74-pred@proj.iam.gserviceaccount.com"
LOCAL_ISSUER, LOCAL_CERTS = "http://127.0.0.1:9/issuer", "http://127.0.0.1:9/issuer/oauth2/v3/certs"
ENVELOPE = {"message": {"attributes": {"objectId": "endpoints/pred/live.json", "eventType": "OBJECT_FINALIZE"},
                        "data": "", "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("google", "local")}


def _jwks(key: rsa.RSAPrivateKey, kid: str) -> bytes:
    pub = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "alg": "RS256", "kid": kid, "n": _b64(pub.n.to_bytes(256, "big")), "e": _b64(b"\x01\x00\x01")}
    return json.dumps({"keys": [jwk]}).encode()


def _token(key: rsa.RSAPrivateKey, kid: str = "google", **over: Any) -> str:
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": URL, "azp": SA, "sub": "1", "email": SA,
              "email_verified": True, "iat": now - 10, "exp": now + 3590, **over}
    head = _b64(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps({k: v for k, v in claims.items() if v is not None}).encode())
    sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(sig)}"


class Refreshes:
    """Stands in for `functions.app.refresh`: records each trigger, answers as a refresh does."""

    def __init__(self) -> None:
        self.triggers: list[str] = []

    def __call__(self, trigger: str) -> Any:
        from functions.http import Response

        self.triggers.append(trigger)
        return Response(200, {"success": True, "refreshed": True})


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch, keys: dict[str, rsa.RSAPrivateKey]) -> Refreshes:
    from functions import app, gcp

    served = {idtoken.GOOGLE_CERTS_URL: _jwks(keys["google"], "google"), LOCAL_CERTS: _jwks(keys["local"], "local")}
    fetched: list[str] = []

    def fetch(url: str) -> tuple[bytes, int | None]:
        fetched.append(url)
        return served[url], 3600

    monkeypatch.setattr(idtoken, "_http_fetch", fetch)  # the keys from memory: no network
    monkeypatch.setattr(gcp, "_ISSUERS", {})
    for name, value in contract.refresh_env(URL, SA, platform_verified=False).items():
        monkeypatch.setenv(name, value)
    for name in (contract.REFRESH_ISSUER, contract.REFRESH_CERTS_URL):
        monkeypatch.delenv(name, raising=False)
    recorder = Refreshes()
    recorder.fetched = fetched  # type: ignore[attr-defined]
    monkeypatch.setattr(app, "refresh", recorder)
    return recorder


def _push(headers: dict[str, str], body: Any = ENVELOPE) -> tuple[int, dict[str, Any]]:
    from functions import gcp

    with flask.Flask("t").test_request_context(contract.REFRESH_PATH, method="POST", json=body, headers=headers):
        resp = gcp.pred(flask.request)
    return resp.status_code, json.loads(resp.get_data())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_push_reaches_the_refresh(refreshes: Refreshes, keys: dict[str, rsa.RSAPrivateKey]) -> None:
    status, body = _push(_bearer(_token(keys["google"])))
    assert (status, body, refreshes.triggers) == (200, {"success": True, "refreshed": True}, ["pubsub_push"])
    status, body = _push(_bearer(_token(keys["google"])), body={"msg": "not an envelope"})
    assert status == 400 and body["error"]["field"] == "message"  # verified first, then the envelope's shape


def _forbidden(status: int, body: dict[str, Any], why: str) -> None:
    assert status == 403 and body["success"] is False and body["error"]["code"] == "forbidden", body
    assert why in body["error"]["message"], body["error"]["message"]


def test_anything_but_the_push_is_403_and_nothing_is_re_read(refreshes: Refreshes,
                                                             keys: dict[str, rsa.RSAPrivateKey]) -> None:
    google, other = keys["google"], rsa.generate_private_key(public_exponent=65537, key_size=2048)
    past = int(time.time()) - 7200
    cases = [
        ({}, "no `Authorization"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "no `Authorization"),
        (_bearer("not-a-jwt"), "not a JWT"),
        (_bearer(_token(other)), "bad signature"),  # a caller's own key, claiming Google's key id
        (_bearer(_token(google, email="eve@example.com")), "email"),  # someone else's Google token
        (_bearer(_token(google, aud="https://us-central1-proj.cloudfunctions.net/other")), "audience"),
        (_bearer(_token(google, iat=past - 3600, exp=past)), "expired"),
        (_bearer(_token(google, iss="https://evil.example")), "issuer"),
        (_bearer(_token(keys["local"], kid="local", iss=LOCAL_ISSUER)), "issuer"),  # not configured here
    ]
    for headers, why in cases:
        _forbidden(*_push(headers), why)
    assert refreshes.triggers == []


def test_a_public_function_does_not_take_a_stripped_signature(refreshes: Refreshes,
                                                              keys: dict[str, rsa.RSAPrivateKey],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    head, body, _ = _token(keys["google"]).split(".")
    stripped = _bearer(f"{head}.{body}.{idtoken.SIGNATURE_REMOVED}")  # what anyone can send a public function
    _forbidden(*_push(stripped), "signature was removed")
    assert refreshes.triggers == []
    # A private function: Cloud Run verified the token (and removed its signature) before it arrived.
    monkeypatch.setenv(contract.REFRESH_PLATFORM_VERIFIED, "1")
    assert _push(stripped)[0] == 200 and refreshes.triggers == ["pubsub_push"]
    # An invoker's own token checked by Cloud Run (X-Serverless-Authorization) does not lend trust to a forged
    # `Authorization` beside it: the function reads the header Cloud Run checked.
    _, alice, _ = _token(keys["google"], email="alice@example.com").split(".")
    headers = {**stripped, "X-Serverless-Authorization": f"Bearer {head}.{alice}.{idtoken.SIGNATURE_REMOVED}"}
    _forbidden(*_push(headers), "email")


def test_the_local_issuer_is_trusted_when_the_stack_names_it(refreshes: Refreshes,
                                                             keys: dict[str, rsa.RSAPrivateKey],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    env = contract.refresh_env(URL, SA, platform_verified=False, issuer=LOCAL_ISSUER, certs_url=LOCAL_CERTS)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    local = _token(keys["local"], kid="local", iss=LOCAL_ISSUER)
    for _ in range(3):
        assert _push(_bearer(local))[0] == 200
    assert _push(_bearer(_token(keys["google"])))[0] == 200  # Google still is
    assert refreshes.fetched == [LOCAL_CERTS, idtoken.GOOGLE_CERTS_URL]  # type: ignore[attr-defined] # once each
    with pytest.raises(ValueError, match="certs URL"):
        contract.refresh_env(URL, SA, platform_verified=False, issuer=LOCAL_ISSUER)


def test_unconfigured_refresh_trusts_no_one(refreshes: Refreshes, keys: dict[str, rsa.RSAPrivateKey],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(contract.REFRESH_AUDIENCE)
    _forbidden(*_push(_bearer(_token(keys["google"]))), "not configured")
    assert refreshes.triggers == []


def test_the_prediction_path_never_imports_the_verifier() -> None:
    """Cold start: importing the adapter and serving a request load no token code (it is imported on the first
    `/_refresh`)."""
    code = ("import sys, flask\nimport functions.gcp as g\n"
            "with flask.Flask('t').test_request_context('/', method='POST', json={'msg': 'hi'}):\n"
            "    r = g.echo(flask.request)\n"
            "assert r.status_code == 200, r.get_data()\n"
            "print(sorted(m for m in sys.modules if m.startswith('functions.')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert "functions.idtoken" not in out and "functions.gcp" in out
