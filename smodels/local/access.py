"""What the clouds check before a request reaches a private function, played by the local fronts.

AWS (API Gateway HTTP API, route authorization `AWS_IAM`): `SigV4Verifier` recomputes the request's Signature
Version 4 with botocore (`SigV4Auth`: canonical request, string to sign, signature), for the local stack's own key
pair, the way moto's `moto/iam/access_control.py` recomputes one from an incoming request, except that the payload
hash is always the hash of the body received (a signature for another body never passes, whatever
`X-Amz-Content-SHA256` claims). A refusal is a 403 worded as API Gateway words it:

- no `Authorization` header: `{"message":"Forbidden"}` (HTTP APIs; REST APIs say "Missing Authentication Token");
- a header that is not SigV4, or lacks a part: `Authorization header requires 'Credential' parameter. ...`
  (`IncompleteSignatureException`);
- an access key that is not the stack's, or a session token: `The security token included in the request is
  invalid.` (`UnrecognizedClientException`);
- another service or region in the credential scope: `Credential should be scoped to correct service:
  'execute-api'. ` / `Credential should be scoped to a valid region. `;
- `X-Amz-Date` more than 5 minutes off: `Signature expired: <date> is now earlier than <now - 5 min> (<now> - 5
  min.)` / `Signature not yet current: <date> is still later than <now + 5 min> (<now> + 5 min.)`;
- any other difference: `The request signature we calculated does not match the signature you provided. Check
  your AWS Secret Access Key and signing method. Consult the service documentation for details.` followed by the
  canonical string and the string to sign API Gateway expected (`InvalidSignatureException`).
A request that passes carries the caller in `requestContext.authorizer.iam`, as HTTP APIs pass it on.

GCP (Cloud Run invoker IAM, `roles/run.invoker`): `LocalIssuer` is an OpenID issuer on 127.0.0.1 with an RS256 key
made at start; its certificates are served at `<issuer>/oauth2/v1/certs` in the `{key id: x509 PEM}` shape of Google's
(and as a JWK set at `<issuer>/oauth2/v3/certs`, as Google's v3 certs: what a function's `/_refresh` verifies the push
with, standard library only, functions/idtoken.py), and `InvokerCheck` verifies `Authorization: Bearer <ID token>` (or
`X-Serverless-Authorization`, which Cloud Run reads first) with google-auth's
`google.oauth2.id_token.verify_token(..., certs_url=...)`: signature, `exp`/`iat`, audience = the function URL, and
`iss` = the local issuer. Then the token's email must be allowed to invoke: a member of `invokers` (`user:`,
`serviceAccount:`, `domain:`, `allAuthenticatedUsers`), the local deployer (a project owner may invoke in the cloud),
or the endpoint's runtime account when it follows a pointer (the program grants it `roles/run.invoker` for the Pub/Sub
push). As Cloud Run answers: no credential, or a valid token whose identity may not invoke -> 403 (HTML "Error:
Forbidden"); a bearer that is not a valid ID token for this URL (bad signature, another audience or issuer, expired,
not a JWT) -> 401 (HTML "Error: Unauthorized", `WWW-Authenticate: Bearer error="invalid_token" ...`). `groups:`
members cannot be resolved locally and allow no one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from smodels import client
from smodels.local.apigw import ACCOUNT_ID
from smodels.local.serving import STOP_POLL_SECONDS

SERVICE = "execute-api"
MAX_SKEW_S = 300  # SigV4: X-Amz-Date within 5 minutes of the server's clock
SIGV4_FORMAT = "%Y%m%dT%H%M%SZ"
LOCAL_USER = "smodels-local-deployer"  # the IAM user name of the local key pair
TOKEN_SKEW_S = 10  # ID tokens: iat/exp leeway


@dataclass(frozen=True)
class Denial:
    """A refusal, ready to send: status, header pairs, body; `reason` is for the local access log only."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    reason: str


# -- AWS: SigV4 ------------------------------------------------------------------------------------------------

def aws_denial(message: str, error_type: str, reason: str) -> Denial:
    """A 403 as API Gateway sends it: `{"message": ...}` and `x-amzn-ErrorType`."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return Denial(403, (("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)), body, reason)


FORBIDDEN = ("Forbidden", "ForbiddenException")
INVALID_TOKEN = ("The security token included in the request is invalid.", "UnrecognizedClientException")
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.")
_AUTH_PART = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")


@dataclass(frozen=True)
class SigV4Verifier:
    """Checks SigV4 for `execute-api` against one key pair (`clock` gives the server's time, seconds since epoch)."""

    access_key_id: str
    secret_access_key: str
    region: str
    account_id: str = ACCOUNT_ID
    user_name: str = LOCAL_USER
    clock: Callable[[], float] = time.time

    def caller(self) -> dict[str, Any]:
        """`requestContext.authorizer.iam` of a request signed with this key pair (HTTP API payload 2.0)."""
        user_id = "AIDA" + hashlib.sha256(self.access_key_id.encode()).hexdigest()[:17].upper()
        return {"accessKey": self.access_key_id, "accountId": self.account_id, "callerId": user_id,
                "cognitoIdentity": None, "principalOrgId": None,
                "userArn": f"arn:aws:iam::{self.account_id}:user/{self.user_name}", "userId": user_id}

    def check(self, method: str, path: str, query: str, headers: Sequence[tuple[str, str]],
              body: bytes) -> Denial | dict[str, Any]:
        """The caller (`caller()`) if the request is signed with this key pair, else the 403 to send."""
        values: dict[str, list[str]] = {}
        for name, value in headers:
            values.setdefault(name.lower(), []).append(value)
        authorization = ",".join(values.get("authorization", []))
        if not authorization:
            return aws_denial(*FORBIDDEN, "no Authorization header")
        parts = dict(_AUTH_PART.findall(authorization)) if authorization.startswith("AWS4-HMAC-SHA256 ") else {}
        amz_date = (values.get("x-amz-date") or [""])[0] or _from_http_date((values.get("date") or [""])[0])
        missing = [f"Authorization header requires '{p}' parameter." for p in ("Credential", "Signature",
                                                                               "SignedHeaders") if not parts.get(p)]
        if not amz_date:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if missing:
            return aws_denial(" ".join(missing) + f" Authorization={authorization}", "IncompleteSignatureException",
                              "not a SigV4 Authorization header")
        scope = parts["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            return aws_denial("Credential should be scoped to a valid region. ", "InvalidSignatureException",
                              f"malformed credential scope {parts['Credential']!r}")
        key_id, scope_date, region, service = scope[:4]
        if key_id != self.access_key_id or "x-amz-security-token" in values:
            return aws_denial(*INVALID_TOKEN, f"unknown access key {key_id!r}"
                              if key_id != self.access_key_id else "a session token the stack did not issue")
        if service != SERVICE:
            return aws_denial(f"Credential should be scoped to correct service: '{SERVICE}'. ",
                              "InvalidSignatureException", f"credential scoped to service {service!r}")
        if region != self.region:
            return aws_denial("Credential should be scoped to a valid region. ", "InvalidSignatureException",
                              f"credential scoped to region {region!r}, the stack's is {self.region!r}")
        try:
            signed_at = dt.datetime.strptime(amz_date, SIGV4_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            return aws_denial("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                              f"header. Authorization={authorization}", "IncompleteSignatureException",
                              f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ")
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        skew = dt.timedelta(seconds=MAX_SKEW_S)
        stamp = now.strftime(SIGV4_FORMAT)
        if signed_at < now - skew:
            return aws_denial(f"Signature expired: {amz_date} is now earlier than "
                              f"{(now - skew).strftime(SIGV4_FORMAT)} ({stamp} - 5 min.)",
                              "InvalidSignatureException", "stale X-Amz-Date")
        if signed_at > now + skew:
            return aws_denial(f"Signature not yet current: {amz_date} is still later than "
                              f"{(now + skew).strftime(SIGV4_FORMAT)} ({stamp} + 5 min.)",
                              "InvalidSignatureException", "X-Amz-Date in the future")
        if scope_date != amz_date[:8]:
            return aws_denial("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                              f"HTTP: '{scope_date}' != '{amz_date[:8]}', from 'X-Amz-Date'.",
                              "InvalidSignatureException", "credential date differs from X-Amz-Date")
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed:
            return aws_denial("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                              "InvalidSignatureException", "host is not a signed header")
        canonical, string_to_sign, expected = self._expected(method, path, query, values, signed, body, amz_date)
        if not hmac.compare_digest(expected, parts["Signature"]):
            message = (f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                       f"The String-to-Sign should have been\n'{string_to_sign}'\n")
            return aws_denial(message, "InvalidSignatureException", "signature mismatch")
        return self.caller()

    def _expected(self, method: str, path: str, query: str, values: dict[str, list[str]], signed: list[str],
                  body: bytes, amz_date: str) -> tuple[str, str, str]:
        """(canonical request, string to sign, signature) botocore computes for the request as received."""
        from botocore.awsrequest import AWSRequest
        from botocore.compat import HTTPHeaders
        from botocore.credentials import Credentials

        signed_headers = HTTPHeaders()
        for name in signed:
            for value in values.get(name, [""]):
                signed_headers[name] = value
        host = (values.get("host") or ["localhost"])[0]
        request = AWSRequest(method=method, url=f"http://{host}{path}" + (f"?{query}" if query else ""), data=body)
        request.context["timestamp"] = amz_date
        auth = _as_received()(Credentials(self.access_key_id, self.secret_access_key), SERVICE, self.region)
        auth.received_headers = signed_headers
        auth.body_sha256 = hashlib.sha256(body).hexdigest()
        canonical = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical)
        return canonical, string_to_sign, auth.signature(string_to_sign, request)


@functools.cache
def _as_received() -> type:
    """botocore's SigV4Auth, canonicalising the request as received: exactly the headers it names as signed, and
    the hash of the body received as the payload hash (never a claimed X-Amz-Content-SHA256)."""
    from botocore.auth import SigV4Auth

    class AsReceived(SigV4Auth):
        received_headers: Any = None
        body_sha256 = ""

        def headers_to_sign(self, request: Any) -> Any:
            return self.received_headers

        def payload(self, request: Any) -> str:
            return self.body_sha256

        def canonical_request(self, request: Any) -> str:
            return "\n".join([request.method.upper(), self._normalize_url_path(urlsplit(request.url).path),
                               self.canonical_query_string(request),
                               self.canonical_headers(self.received_headers) + "\n",
                               self.signed_headers(self.received_headers), self.body_sha256])

    return AsReceived


def _b64url(data: bytes) -> str:
    """base64url without padding (JWK members)."""
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _from_http_date(value: str) -> str:
    """An RFC 7231 `Date` header as an X-Amz-Date (the other date SigV4 accepts); "" if there is none."""
    from email.utils import parsedate_to_datetime

    if not value:
        return ""
    try:
        return parsedate_to_datetime(value).astimezone(dt.UTC).strftime(SIGV4_FORMAT)
    except (TypeError, ValueError):
        return value


def new_key_pair() -> tuple[str, str]:
    """A fresh access key pair shaped like IAM's (AKIA + 16, 40-character secret)."""
    alphabet = string.ascii_uppercase + "234567"
    key_id = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
    return key_id, secret


# -- GCP: ID tokens ----------------------------------------------------------------------------------------------

_PAGE = ('<html><head>\n<meta http-equiv="content-type" content="text/html;charset=utf-8">\n<title>{title}</title>\n'
         '</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: {error}</h1>\n<h2>{text}</h2>\n<h2></h2>\n'
         '</body></html>\n')
INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token" error_description="The access token could not be verified"'


def cloud_run_denial(status: int, path: str, reason: str) -> Denial:
    """Cloud Run's own 401 / 403 page for `path` (the path and query as requested)."""
    where = html.escape(path, quote=False)
    if status == 401:
        page = _PAGE.format(title="401 Unauthorized", error="Unauthorized",
                            text=f"Your client does not have permission to the requested URL <code>{where}</code>.")
        headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=UTF-8"),
                                                ("WWW-Authenticate", INVALID_TOKEN_CHALLENGE))
    else:
        page = _PAGE.format(title="403 Forbidden", error="Forbidden",
                            text=f"Your client does not have permission to get URL <code>{where}</code> from this "
                                 "server.")
        headers = (("Content-Type", "text/html; charset=UTF-8"),)
    return Denial(status, headers, page.encode(), reason)


class _CertsRequest:
    """A google.auth transport Request that fetches the issuer's certificates over HTTP once, then reuses them
    (what a CacheControl session does with Google's cache headers); other URLs are refused."""

    def __init__(self, certs_url: str) -> None:
        self.certs_url = certs_url
        self._data: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        from google.auth import exceptions

        if url != self.certs_url:
            raise exceptions.TransportError(f"the local issuer serves only {self.certs_url}, not {url}")
        with self._lock:
            if self._data is None:
                try:
                    with urllib.request.urlopen(url, timeout=5) as resp:
                        self._data = resp.read()
                except OSError as exc:
                    raise exceptions.TransportError(f"cannot fetch {url}: {exc}") from exc
            data = self._data
        return _Response(data)


@dataclass(frozen=True)
class _Response:
    data: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})


class LocalIssuer:
    """The local stack's OpenID issuer: an RS256 key and a self-signed certificate made at start, served on
    127.0.0.1 (`/.well-known/openid-configuration`, `/oauth2/v1/certs`) until `stop()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode("ascii")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smodels local issuer")])
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start)
                .not_valid_after(start + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
        self.certificate_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self.key_id = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()[:40]
        numbers = key.public_key().public_numbers()
        self.jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.key_id,
                    "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                    "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"))}
        self._server = ThreadingHTTPServer((host, port), _IssuerHandler)
        self._server.daemon_threads = True
        self._server.issuer = self  # type: ignore[attr-defined]
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self.certs_url = f"{self.url}/oauth2/v1/certs"
        self.jwks_url = f"{self.url}/oauth2/v3/certs"  # the same key as a JWK set, as Google serves its v3 certs
        self._request = _CertsRequest(self.certs_url)
        self._thread: threading.Thread | None = None

    def documents(self) -> dict[str, bytes]:
        """What the issuer serves, by path."""
        config = {"issuer": self.url, "jwks_uri": self.jwks_url, "id_token_signing_alg_values_supported": ["RS256"],
                  "subject_types_supported": ["public"], "response_types_supported": ["id_token"]}
        return {"/.well-known/openid-configuration": json.dumps(config).encode(),
                "/oauth2/v1/certs": json.dumps({self.key_id: self.certificate_pem}).encode(),
                "/oauth2/v3/certs": json.dumps({"keys": [self.jwk]}).encode()}

    def start(self) -> LocalIssuer:
        """Serve the certificates in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, args=(STOP_POLL_SECONDS,),
                                        name="local-issuer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()

    def verify(self, token: str, audiences: Sequence[str]) -> dict[str, Any]:
        """The claims of `token` if this issuer signed it for one of `audiences` and it has not expired; else
        ValueError saying why (google-auth's message)."""
        from google.auth import exceptions
        from google.oauth2 import id_token

        try:
            claims = dict(id_token.verify_token(token, self._request, audience=list(audiences),
                                                certs_url=self.certs_url, clock_skew_in_seconds=TOKEN_SKEW_S))
        except (exceptions.GoogleAuthError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        if claims.get("iss") != self.url:
            raise ValueError(f"issuer {claims.get('iss')!r} is not the local issuer {self.url}")
        return claims


class _IssuerHandler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        doc = self.server.issuer.documents().get(self.path.split("?", 1)[0])
        data = doc if doc is not None else b'{"error": "not found"}'
        self.send_response(200 if doc is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=3600")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def member_allows(member: str, email: str) -> bool:
    """Whether the IAM member `member` (`user:`, `serviceAccount:`, `domain:`, `allAuthenticatedUsers`) is the
    identity `email`. `group:` members cannot be resolved locally."""
    kind, _, value = member.partition(":")
    email = email.lower()
    if member == "allAuthenticatedUsers":
        return True
    if kind in ("user", "serviceAccount"):
        return value.lower() == email
    if kind == "domain":
        return email.rpartition("@")[2] == value.lower()
    return False


@dataclass(frozen=True)
class InvokerCheck:
    """`roles/run.invoker` of one function, checked as Cloud Run checks it: an ID token for `audiences` from
    `issuer`, whose email is one of `members` (IAM members) or `identities` (emails)."""

    issuer: LocalIssuer
    audiences: tuple[str, ...]
    members: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()

    def allows(self, email: str) -> bool:
        """Whether `email` may invoke."""
        return email.lower() in {i.lower() for i in self.identities} or any(
            member_allows(m, email) for m in self.members)

    def check(self, path: str, headers: Iterable[tuple[str, str]]) -> Denial | dict[str, Any]:
        """The token's claims, or Cloud Run's 401 / 403 for `path` (path and query)."""
        found: dict[str, str] = {}
        for name, value in headers:
            found.setdefault(name.lower(), value)
        credential = found.get("x-serverless-authorization") or found.get("authorization")
        if not credential:
            return cloud_run_denial(403, path, "no Authorization header")
        scheme, _, token = credential.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return cloud_run_denial(401, path, "the Authorization header is not `Bearer <ID token>`")
        try:
            claims = self.issuer.verify(token.strip(), self.audiences)
        except ValueError as exc:
            return cloud_run_denial(401, path, f"invalid ID token: {exc}")
        email = claims.get("email")
        if not isinstance(email, str) or not self.allows(email):
            return cloud_run_denial(403, path, f"{email or 'a token without an email'} may not invoke this function")
        return claims


# -- one stack's access --------------------------------------------------------------------------------------------

def stable_key_pair(path: Path) -> tuple[str, str]:
    """The key pair of the access file at `path` if it holds one (kept across runs, like an IAM user's key),
    else a new one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key_id, secret = data["access_key_id"], data["secret_access_key"]
        if isinstance(key_id, str) and key_id.startswith("AKIA") and isinstance(secret, str) and len(secret) == 40:
            return key_id, secret
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return new_key_pair()


@dataclass
class StackAccess:
    """The access of one running local stack: its key pair, its issuer, what each front checks; `client_access()`
    is what a caller needs (written to `access_file`, registered with `smodels.client`)."""

    stack: str
    private: bool
    region: str
    access_key_id: str
    secret_access_key: str
    issuer: LocalIssuer
    deployer: str
    invokers: tuple[str, ...]
    access_file: Path
    clock: Callable[[], float] = time.time
    aws_url: str | None = None
    gcp: list[client.LocalGcpEndpoint] = field(default_factory=list)

    @classmethod
    def create(cls, *, stack: str, private: bool, region: str, invokers: Sequence[str], access_file: Path,
               deployer: str) -> StackAccess:
        """Keys (kept from the last run's access file) and a started issuer (a new RS256 key each run)."""
        key_id, secret = stable_key_pair(access_file)
        return cls(stack=stack, private=private, region=region, access_key_id=key_id, secret_access_key=secret,
                   issuer=LocalIssuer().start(), deployer=deployer, invokers=tuple(invokers),
                   access_file=access_file)

    def aws_verifier(self) -> SigV4Verifier | None:
        """What the AWS front checks (None for a public stack)."""
        if not self.private:
            return None
        return SigV4Verifier(self.access_key_id, self.secret_access_key, self.region, clock=self.clock)

    def gcp_check(self, name: str, url: str, runtime_account: str, follows_pointer: bool) -> InvokerCheck | None:
        """What the front of Cloud Function `name` at `url` checks (None for a public stack); its runtime account
        may invoke it when it follows a pointer (the refresh push)."""
        self.gcp.append(client.LocalGcpEndpoint(name, url, runtime_account))
        if not self.private:
            return None
        identities = (self.deployer, runtime_account) if follows_pointer else (self.deployer,)
        return InvokerCheck(self.issuer, (url.rstrip("/"), url.rstrip("/") + "/"), self.invokers, identities)

    def client_access(self) -> client.LocalAccess:
        """What a caller needs (secrets included)."""
        return client.LocalAccess(
            stack=self.stack, private=self.private, region=self.region, access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key, issuer=self.issuer.url, certs_url=self.issuer.certs_url,
            key_id=self.issuer.key_id, private_key_pem=self.issuer.private_key_pem, deployer=self.deployer,
            aws_url=self.aws_url, gcp=tuple(self.gcp))

    def summary(self) -> dict[str, Any]:
        """The state file's `local` entry: where the access file is, and what is not secret."""
        return {"access_file": str(self.access_file), "private": self.private, "region": self.region,
                "aws_access_key_id": self.access_key_id, "issuer": self.issuer.url,
                "certs_url": self.issuer.certs_url, "deployer": self.deployer,
                "runtime_accounts": {g.name: g.runtime_account for g in self.gcp}}

    def stop(self) -> None:
        """Stop the issuer."""
        self.issuer.stop()
