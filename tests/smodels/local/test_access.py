"""The local fronts check what the clouds check (issue 20, parts 1-2), in-process and fast: no function processes.

AWS: the API Gateway front (`FrontServer` with a `SigV4Verifier`) in front of a fake Lambda that records what it
is invoked with. GCP: a Cloud Run front (`CloudRunFront` with an `InvokerCheck` of the stack's `LocalIssuer`) in
front of a plain HTTP server standing in for functions-framework. Both clouds: unsigned -> refused; a signature
for another body or another key -> refused; a stale signature / an expired token -> refused; correctly signed ->
200; `public: true` -> 200 unsigned. Time never decides a result: SigV4 is signed and checked at a fixed time (the
verifier's clock), expired ID tokens carry explicit past timestamps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_servers import http_server, post_json, request

from smodels import client, local_state
from smodels.cli import main
from smodels.local.access import (
    MISMATCH,
    LocalIssuer,
    SigV4Verifier,
    StackAccess,
    member_allows,
    new_key_pair,
    stable_key_pair,
)
from smodels.local.cloud_functions import CloudRunFront
from smodels.local.front import FrontServer
from smodels.local.lambda_runtime import InvokeResult
from smodels.local.notifier import Notifier, Watch

REGION = "us-east-1"
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)  # the time every SigV4 case is signed and checked at
BODY = b'{"msg": "hello"}'
JSON = {"Content-Type": "application/json"}
RUNTIME = "sm-runtime-echo-1a2b3c4d@local-project.iam.gserviceaccount.com"


# -- AWS -----------------------------------------------------------------------------------------------------------

class FakeLambda:
    """Stands in for a LambdaFunction: records every event, answers 200 with the request body."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, payload: bytes) -> InvokeResult:
        event = json.loads(payload)
        self.events.append(event)
        body = json.dumps({"success": True, "echo": event.get("body")})
        return InvokeResult("response", json.dumps({"statusCode": 200, "body": body}).encode(), None, 1.0, "r")


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """A private AWS front (clock fixed at T0), its fake Lambda and the client access that signs for it."""
    key_id, secret = new_key_pair()
    fn = FakeLambda()
    verifier = SigV4Verifier(key_id, secret, REGION, clock=T0.timestamp)
    front = FrontServer({"echo": fn}, auth=verifier).start()
    access = client.LocalAccess(stack="t", private=True, region=REGION, access_key_id=key_id,
                                secret_access_key=secret, issuer="http://unused", certs_url="http://unused/certs",
                                key_id="k", private_key_pem="", deployer=local_state.LOCAL_DEPLOYER,
                                aws_url=front.url)
    try:
        yield {"url": f"{front.url}/echo", "fn": fn, "access": access, "front": front}
    finally:
        front.stop()


def _send(url: str, headers: dict[str, str], body: bytes | None = BODY, method: str = "POST") -> tuple[int, dict,
                                                                                                        Any]:
    status, got, data = client.send(method, url, body, headers, timeout=10)
    try:
        return status, got, json.loads(data)
    except ValueError:
        return status, got, data.decode()


def _signed(access: client.LocalAccess, url: str, body: bytes = BODY, at: dt.datetime = T0,
            method: str = "POST", headers: dict[str, str] | None = None) -> dict[str, str]:
    return client.sign_local(access, method, url, body, headers if headers is not None else JSON, now=at)


def test_aws_unsigned_is_forbidden_and_never_reaches_the_function(aws: dict[str, Any]) -> None:
    status, headers, body = _send(aws["url"], JSON)
    assert (status, body) == (403, {"message": "Forbidden"})
    assert headers["x-amzn-errortype"] == "ForbiddenException" and headers["apigw-requestid"]
    assert aws["fn"].events == []


def test_aws_correctly_signed_is_200_with_the_caller_in_the_event(aws: dict[str, Any]) -> None:
    status, _, body = _send(aws["url"], _signed(aws["access"], aws["url"]))
    assert status == 200 and body == {"success": True, "echo": BODY.decode()}
    (event,) = aws["fn"].events
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == aws["access"].access_key_id and iam["accountId"] == "000000000000"
    assert iam["userArn"] == "arn:aws:iam::000000000000:user/smodels-local-deployer"
    # A GET (no body) and a query string are signed and checked too.
    url = aws["url"] + "?b=2&a=1"
    status, _, _ = _send(url, _signed(aws["access"], url, b"", method="GET", headers={}), None, "GET")
    assert status == 200


def test_aws_signature_for_another_body_is_refused_with_the_expected_canonical_string(aws: dict[str, Any]) -> None:
    headers = _signed(aws["access"], aws["url"], BODY)
    status, got, body = _send(aws["url"], headers, b'{"msg": "HELLO"}')
    assert status == 403 and got["x-amzn-errortype"] == "InvalidSignatureException"
    message = body["message"]
    assert message.startswith(MISMATCH + "\n\nThe Canonical String for this request should have been\n'POST\n/echo\n")
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20260301T120000Z\n" in message
    # Claiming the other body's hash in X-Amz-Content-SHA256 does not help: the hash is of the body received.
    import hashlib

    claimed = {**JSON, "X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}
    status, _, _ = _send(aws["url"], _signed(aws["access"], aws["url"], BODY, headers=claimed), b'{"x": 1}')
    assert status == 403
    assert aws["fn"].events == []


def test_aws_another_key_is_refused(aws: dict[str, Any]) -> None:
    other_id, other_secret = new_key_pair()
    stranger = dataclasses.replace(aws["access"], access_key_id=other_id, secret_access_key=other_secret)
    status, got, body = _send(aws["url"], _signed(stranger, aws["url"]))
    assert (status, body) == (403, {"message": "The security token included in the request is invalid."})
    assert got["x-amzn-errortype"] == "UnrecognizedClientException"
    # The stack's key id with another secret: the signature does not match.
    wrong_secret = dataclasses.replace(aws["access"], secret_access_key=other_secret)
    status, _, body = _send(aws["url"], _signed(wrong_secret, aws["url"]))
    assert status == 403 and body["message"].startswith(MISMATCH)
    # A session token the stack never issued.
    headers = {**_signed(aws["access"], aws["url"]), "X-Amz-Security-Token": "testing"}
    assert _send(aws["url"], headers)[2] == {"message": "The security token included in the request is invalid."}
    assert aws["fn"].events == []


def test_aws_stale_or_future_signature_is_refused(aws: dict[str, Any]) -> None:
    status, _, body = _send(aws["url"], _signed(aws["access"], aws["url"], at=T0 - dt.timedelta(minutes=6)))
    assert (status, body) == (403, {"message": "Signature expired: 20260301T115400Z is now earlier than "
                                               "20260301T115500Z (20260301T120000Z - 5 min.)"})
    status, _, body = _send(aws["url"], _signed(aws["access"], aws["url"], at=T0 + dt.timedelta(minutes=6)))
    assert (status, body) == (403, {"message": "Signature not yet current: 20260301T120600Z is still later than "
                                               "20260301T120500Z (20260301T120000Z + 5 min.)"})
    # Within the 5 minutes either side: accepted.
    assert _send(aws["url"], _signed(aws["access"], aws["url"], at=T0 - dt.timedelta(minutes=4)))[0] == 200


def test_aws_other_schemes_and_scopes_are_refused_as_api_gateway_words_them(aws: dict[str, Any]) -> None:
    status, got, body = _send(aws["url"], {**JSON, "Authorization": "Bearer abc"})
    assert status == 403 and got["x-amzn-errortype"] == "IncompleteSignatureException"
    assert body["message"].startswith("Authorization header requires 'Credential' parameter. Authorization header "
                                      "requires 'Signature' parameter.")
    assert body["message"].endswith("Authorization=Bearer abc")
    signed = _signed(aws["access"], aws["url"])
    for part, replacement, message in (
        ("/execute-api/", "/lambda/", "Credential should be scoped to correct service: 'execute-api'. "),
        (f"/{REGION}/", "/eu-west-1/", "Credential should be scoped to a valid region. "),
    ):
        bent = {**signed, "Authorization": signed["Authorization"].replace(part, replacement)}
        assert _send(aws["url"], bent)[2] == {"message": message}
    no_host = {**signed, "Authorization": signed["Authorization"].replace("SignedHeaders=", "SignedHeaders=x;")
               .replace(";host;", ";")}
    assert _send(aws["url"], no_host)[0] == 403


def test_aws_unknown_route_is_404_before_any_signature_check(aws: dict[str, Any]) -> None:
    assert _send(aws["front"].url + "/nope", JSON)[:3:2] == (404, {"message": "Not Found"})


def test_aws_public_front_takes_unsigned_requests() -> None:
    fn = FakeLambda()
    front = FrontServer({"echo": fn}).start()  # public: true, no auth
    try:
        status, _, body = _send(f"{front.url}/echo", JSON)
        assert status == 200 and body["success"] is True
        assert "authorizer" not in fn.events[0]["requestContext"]
    finally:
        front.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_aws_sigv4_as_the_readme_shows_is_accepted(aws: dict[str, Any]) -> None:
    """`curl --aws-sigv4 "aws:amz:us-east-1:execute-api" --user KEY:SECRET`: curl signs with its own clock, so the
    front is given a real clock for this one."""
    import time

    front: FrontServer = aws["front"]
    front.auth = dataclasses.replace(front.auth, clock=time.time)
    access = aws["access"]
    out = subprocess.run(
        ["curl", "-s", "-w", "\\n%{http_code}", "--aws-sigv4", f"aws:amz:{REGION}:execute-api",
         "--user", f"{access.access_key_id}:{access.secret_access_key}", "-H", "Content-Type: application/json",
         "-d", BODY.decode(), aws["url"]], capture_output=True, text=True, timeout=30, check=False)
    body, _, code = out.stdout.rpartition("\n")
    assert code == "200", out.stdout + out.stderr
    assert json.loads(body)["success"] is True
    out = subprocess.run(["curl", "-s", "-d", BODY.decode(), aws["url"]], capture_output=True, text=True, timeout=30,
                         check=False)
    assert json.loads(out.stdout) == {"message": "Forbidden"}


# -- GCP -----------------------------------------------------------------------------------------------------------

class Backend(BaseHTTPRequestHandler):
    """Stands in for functions-framework: answers 200 with what it received."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Backend.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                             "body": body})
        data = json.dumps({"success": True, "path": self.path, "body": body.decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-From", "function")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle  # noqa: N815


@pytest.fixture
def gcp(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A private stack's access with two Cloud Run fronts (`echo` follows a pointer, `other` does not) before one
    fake functions-framework; invokers: a user and a domain."""
    Backend.seen = []
    access = StackAccess.create(stack="t", private=True, region=REGION, access_file=tmp_path / "access.json",
                                invokers=("user:alice@example.com", "domain:corp.example", "group:team@example.com"),
                                deployer=local_state.LOCAL_DEPLOYER)
    with http_server(Backend) as backend:
        fronts = {}
        for name, pointer in (("echo", True), ("other", False)):
            front = CloudRunFront(name, backend)
            front.check = access.gcp_check(name, front.url, RUNTIME.replace("echo", name), pointer)
            fronts[name] = front.start()
        try:
            yield {"access": access, "client": access.client_access(), "fronts": fronts, "url": fronts["echo"].url}
        finally:
            for front in fronts.values():
                front.stop()
            access.stop()


def _bearer(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {token}"}


def test_gcp_unsigned_is_cloud_runs_403_page_and_never_reaches_the_function(gcp: dict[str, Any]) -> None:
    status, headers, page = _send(gcp["url"] + "?x=1", JSON)
    assert status == 403 and headers["content-type"].startswith("text/html")
    assert "<title>403 Forbidden</title>" in page and "<h1>Error: Forbidden</h1>" in page
    assert "Your client does not have permission to get URL <code>/?x=1</code> from this server." in page
    assert Backend.seen == []


def test_gcp_deployer_token_is_200_and_the_request_arrives_as_sent(gcp: dict[str, Any]) -> None:
    token = client.mint_id_token(gcp["client"], gcp["url"])
    status, headers, body = _send(gcp["url"] + "_refresh?a=1", _bearer(token))
    assert status == 200 and body == {"success": True, "path": "/_refresh?a=1", "body": BODY.decode()}
    assert headers["x-from"] == "function"
    (seen,) = Backend.seen
    # Cloud Run passes the header on, the signature of the token it verified removed (functions/idtoken.py).
    head, payload, _ = token.split(".")
    assert seen["headers"]["Authorization"] == f"Bearer {head}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"
    assert seen["headers"]["Host"] == gcp["url"].split("/")[2] and seen["body"] == BODY
    # The audience may be the URL with or without its trailing slash (the program's push uses it without).
    assert _send(gcp["url"], _bearer(client.mint_id_token(gcp["client"], gcp["url"].rstrip("/"))))[0] == 200


def test_gcp_token_for_another_function_or_from_another_issuer_is_401(gcp: dict[str, Any]) -> None:
    other = client.mint_id_token(gcp["client"], gcp["fronts"]["other"].url)  # valid, but for the other function
    status, headers, page = _send(gcp["url"], _bearer(other))
    assert status == 401 and "<h1>Error: Unauthorized</h1>" in page
    assert "Your client does not have permission to the requested URL <code>/</code>." in page
    assert headers["www-authenticate"] == ('Bearer error="invalid_token" '
                                           'error_description="The access token could not be verified"')
    stranger = LocalIssuer()  # another key pair: a signature the stack's certificates do not verify
    try:
        forged = dataclasses.replace(gcp["client"], key_id=gcp["client"].key_id,
                                     private_key_pem=stranger.private_key_pem)
        assert _send(gcp["url"], _bearer(client.mint_id_token(forged, gcp["url"])))[0] == 401
    finally:
        stranger.stop()
    # Another issuer name with the right key, a token that is not a JWT, another scheme: 401 each.
    renamed = dataclasses.replace(gcp["client"], issuer="https://accounts.google.com")
    assert _send(gcp["url"], _bearer(client.mint_id_token(renamed, gcp["url"])))[0] == 401
    assert _send(gcp["url"], _bearer("not-a-jwt"))[0] == 401
    assert _send(gcp["url"], {**JSON, "Authorization": "Basic YTpi"})[0] == 401
    assert Backend.seen == []


def test_gcp_expired_token_is_401(gcp: dict[str, Any]) -> None:
    import time

    expired = client.mint_id_token(gcp["client"], gcp["url"], now=time.time() - 7200, lifetime_s=3600)
    assert _send(gcp["url"], _bearer(expired))[0] == 401
    assert Backend.seen == []


def test_gcp_only_identities_allowed_to_invoke_get_through(gcp: dict[str, Any]) -> None:
    def status(email: str, front: str = "echo") -> int:
        url = gcp["fronts"][front].url
        return _send(url, _bearer(client.mint_id_token(gcp["client"], url, email)))[0]

    assert status("alice@example.com") == 200  # user: in invokers
    assert status("bob@corp.example") == 200  # domain: in invokers
    assert status("mallory@example.com") == 403  # a valid token, but no run.invoker
    assert status("team@example.com") == 403  # group membership cannot be resolved locally
    assert status(RUNTIME) == 200, "a pointer endpoint's runtime account may push /_refresh"
    assert status(RUNTIME.replace("echo", "other"), "other") == 403, "not granted without refresh: pointer"
    assert status(RUNTIME, "other") == 403, "one endpoint's account is not another's invoker"
    assert member_allows("allAuthenticatedUsers", "anyone@example.org")


def test_gcp_x_serverless_authorization_is_read_first(gcp: dict[str, Any]) -> None:
    token = client.mint_id_token(gcp["client"], gcp["url"])
    headers = {**JSON, "X-Serverless-Authorization": f"Bearer {token}", "Authorization": "Bearer app-token"}
    assert _send(gcp["url"], headers)[0] == 200
    assert Backend.seen[-1]["headers"]["Authorization"] == "Bearer app-token", "left to the application"
    assert Backend.seen[-1]["headers"]["X-Serverless-Authorization"].endswith(".SIGNATURE_REMOVED_BY_GOOGLE")


def test_the_issuers_jwk_set_verifies_its_tokens_with_the_standard_library(gcp: dict[str, Any]) -> None:
    """What a local function's `/_refresh` checks the push with (functions/idtoken.py, no google-auth): the JWK set
    at `<issuer>/oauth2/v3/certs`, the same key as the PEM google-auth uses at the front."""
    from functions import idtoken

    issuer = gcp["access"].issuer
    with urllib.request.urlopen(issuer.jwks_url, timeout=5) as resp:
        jwks = json.loads(resp.read())
    assert [k["kid"] for k in jwks["keys"]] == [issuer.key_id]
    with urllib.request.urlopen(f"{issuer.url}/.well-known/openid-configuration", timeout=5) as resp:
        assert json.loads(resp.read())["jwks_uri"] == issuer.jwks_url
    url = gcp["url"].rstrip("/")
    trusted = [idtoken.Issuer((issuer.url,), idtoken.JwksCache(issuer.jwks_url))]
    token = client.mint_id_token(gcp["client"], url, RUNTIME)
    assert idtoken.verify(token, issuers=trusted, audiences=[url], email=RUNTIME)["email"] == RUNTIME
    with pytest.raises(idtoken.TokenError, match="email"):
        idtoken.verify(client.mint_id_token(gcp["client"], url), issuers=trusted, audiences=[url], email=RUNTIME)


def test_gcp_public_front_and_an_unreachable_function(tmp_path: Path) -> None:
    with http_server(Backend) as backend:
        front = CloudRunFront("echo", backend).start()  # public: true, no check
        try:
            assert _send(front.url, JSON)[0] == 200
            # A chunked request body reaches the function whole.
            req = urllib.request.Request(front.url, data=iter([b'{"msg": ', b'"hi"}']), method="POST",
                                         headers={**JSON, "Transfer-Encoding": "chunked"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert json.loads(resp.read())["body"] == '{"msg": "hi"}'
        finally:
            front.stop()
    down = CloudRunFront("echo", "http://127.0.0.1:9").start()
    try:
        status, _, page = _send(down.url, JSON)
        assert status == 503 and "Error: Service Unavailable" in page
    finally:
        down.stop()


def test_the_refresh_push_carries_the_runtime_accounts_token(gcp: dict[str, Any]) -> None:
    url = gcp["url"]
    watch = Watch("gcp", "echo", "b", "endpoints/echo/live.json", url, "sub",
                  token=lambda: client.local_id_token(gcp["client"], url.rstrip("/"), RUNTIME))
    notifier = Notifier([watch], gcs_url="http://127.0.0.1:9")
    status, outcome, _ = notifier._push(watch, {"metadata": {"generation": "2", "name": "k"}}, "1")
    assert (status, outcome) == (200, "http")
    assert Backend.seen[-1]["path"] == "/_refresh"
    unsigned = dataclasses.replace(watch, token=None)
    assert notifier._push(unsigned, {"metadata": {"generation": "3"}}, "2")[0] == 403


# -- the client side: one seam, the access file, the CLI -------------------------------------------------------------

def test_sign_for_local_signs_registered_private_stacks_only(gcp: dict[str, Any]) -> None:
    access: client.LocalAccess = gcp["client"]
    assert client.sign_for_local("POST", gcp["url"], BODY, JSON) == JSON, "not registered: sent as it is"
    client.register_local(access)
    try:
        signed = client.sign_for_local("POST", gcp["url"], BODY, JSON)
        assert signed["Authorization"].startswith("Bearer ") and signed is not JSON
        assert client.sign_for_local("POST", gcp["url"], BODY, JSON) == signed, "a token is reused, not re-minted"
        assert post_json(gcp["url"], {"msg": "hi"})[0] == 200, "tests/local_servers helpers sign through it"
        assert request("GET", gcp["fronts"]["other"].url)[0] == 200
        assert client.sign("gcp", "POST", gcp["url"], BODY, JSON)["Authorization"] == signed["Authorization"]
    finally:
        client.unregister_local(access)
    assert client.local_access_for(gcp["url"]) is None
    public = dataclasses.replace(access, private=False)
    client.register_local(public)
    try:
        assert client.sign_for_local("POST", gcp["url"], BODY, JSON) == JSON, "a public stack: nothing to sign"
    finally:
        client.unregister_local(public)
    with pytest.raises(client.ClientError, match="is not an endpoint of the local stack 't'"):
        client.sign_local(access, "POST", "http://127.0.0.1:9/", BODY, JSON)


def test_access_file_is_private_and_the_key_pair_is_kept_across_runs(gcp: dict[str, Any], tmp_path: Path) -> None:
    access: client.LocalAccess = gcp["client"]
    path = tmp_path / "access.json"
    access.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert client.LocalAccess.load(path) == access
    assert stable_key_pair(path) == (access.access_key_id, access.secret_access_key)
    assert stable_key_pair(tmp_path / "missing.json") != stable_key_pair(tmp_path / "missing.json")
    with pytest.raises(client.ClientError, match="cannot read the local stack's access file"):
        client.LocalAccess.load(tmp_path / "missing.json")


def _state(project: Path, stack: str, access: StackAccess, urls: dict[str, str]) -> Path:
    """A state file as `smodels serve` writes it, for the fronts of the `gcp` fixture."""
    run = local_state.run_dir(project, stack)
    run.mkdir(parents=True)
    access.access_file = local_state.access_path(run)
    access.client_access().write(access.access_file)
    state = {"endpoints": {"gcp": {n: {"url": u, "model_uri": None, "auth": "google_id_token"}
                                   for n, u in urls.items()}},
             "private": True, "local": access.summary()}
    path = local_state.state_path(project, stack)
    path.write_text(json.dumps(state))
    return path


def test_invoke_local_and_local_token_sign_for_the_running_stack(
    gcp: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = {n: f.url for n, f in gcp["fronts"].items()}
    _state(tmp_path, "t", gcp["access"], urls)
    try:
        assert main(["invoke", "echo", "--local", "--stack", "t", "--project-dir", str(tmp_path),
                     "--data", '{"msg": "hi"}']) == 0
        out = capsys.readouterr()
        assert "HTTP 200" in out.out and f"ID token of the local issuer for {local_state.LOCAL_DEPLOYER}" in out.err
        assert main(["invoke", "echo", "--local", "--stack", "t", "--project-dir", str(tmp_path),
                     "--token", "forged"]) == 1, "a given token is sent as it is (and refused)"
        capsys.readouterr()

        assert main(["local-token", "echo", "--stack", "t", "--project-dir", str(tmp_path)]) == 0
        token = capsys.readouterr().out.strip()
        assert _send(urls["echo"], _bearer(token))[0] == 200
        assert _send(urls["other"], _bearer(token))[0] == 401, "its audience is echo's URL"
        assert main(["local-token", "echo", "--as", "runtime", "--stack", "t", "--project-dir", str(tmp_path)]) == 0
        assert _send(urls["echo"], _bearer(capsys.readouterr().out.strip()))[0] == 200
        assert main(["local-token", "echo", "--as", "eve@example.com", "--stack", "t",
                     "--project-dir", str(tmp_path)]) == 0
        assert _send(urls["echo"], _bearer(capsys.readouterr().out.strip()))[0] == 403
        assert main(["local-token", "--cloud", "aws", "--stack", "t", "--project-dir", str(tmp_path)]) == 0
        access = gcp["access"]
        assert capsys.readouterr().out.strip() == f"{access.access_key_id}:{access.secret_access_key}"
    finally:
        client.unregister_local(client.LocalAccess.load(gcp["access"].access_file))
        for url in urls.values():
            registered = client.local_access_for(url)
            if registered is not None:
                client.unregister_local(registered)

    for argv, message in (
        (["local-token", "nope", "--stack", "t"], "no GCP endpoint 'nope'"),
        (["local-token", "--stack", "t"], "name the ENDPOINT"),
        (["local-token", "echo", "--stack", "absent"], "no local stack 'absent' is running"),
        (["invoke", "echo", "--local", "--stack", "absent"], "no local stack 'absent' is running"),
    ):
        assert main([*argv, "--project-dir", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err
    for url in urls.values():
        registered = client.local_access_for(url)
        if registered is not None:
            client.unregister_local(registered)


def test_an_unsigned_urllib_request_to_a_private_front_gets_the_cloud_answer(gcp: dict[str, Any]) -> None:
    """What a user without a token sees: an HTTPError, the page as its body (nothing leaks from the function)."""
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(gcp["url"], timeout=10)
    assert err.value.code == 403 and b"Error: Forbidden" in err.value.read()
