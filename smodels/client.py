"""Calling a stack, deployed or local, for `smodels invoke`, `smodels smoke` and the tests: outputs, signing, sending.

`read_outputs` gives `pulumi stack output --json` (shape in `__main__.py`). `sign`: a private AWS endpoint (API
Gateway, AWS_IAM) wants SigV4 for `execute-api`, region parsed from the URL; a private GCP endpoint wants a Google
ID token whose audience is the function URL. `send` returns a 4xx/5xx instead of raising.

The local stack (`smodels serve`) checks the same: its AWS front verifies SigV4 for the stack's own key pair, its
GCP fronts want an ID token from the stack's own issuer. A running stack describes itself in a `LocalAccess`
(`<run dir>/access.json`, named by its state file); once registered here (`register_local`: the stack does it in
its own process, `use_local_outputs` in a client that read its state file), `sign` and `sign_for_local` sign every
request to one of its URLs with it: SigV4 with the local key pair, or an ID token the local issuer's key signs for
the local deployer. This is the one signing seam of invoke, smoke, the benches and the tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_REGION_RE = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class ClientError(ValueError):
    """A problem that stops a call before it is sent; the message says what to do."""


def read_outputs(outputs_file: str | Path | None, stack: str | None, cwd: Path | None = None) -> dict[str, Any]:
    """The stack outputs: from `outputs_file` if given, else `pulumi stack output --json [--stack NAME]` in `cwd`.

    Never with `--show-secrets`: calling an endpoint needs its URL, model sha256 and auth mode, none of them
    secret. The stack's only secret outputs are the publisher's access keys (`publisher: true`); without the flag
    Pulumi prints them as "[secret]", so the keys never reach this process, its error messages or its reports.
    Something that does need a secret should ask for that output alone (`pulumi stack output publisher
    --show-secrets`).
    """
    if outputs_file:
        try:
            data = json.loads(Path(outputs_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ClientError(f"--outputs: cannot read {outputs_file}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ClientError(f"--outputs: {outputs_file} is not JSON: {exc}") from None
    else:
        exe = shutil.which("pulumi")
        if exe is None:
            raise ClientError("the pulumi CLI is not on PATH; pass --outputs FILE "
                              "(a file holding `pulumi stack output --json` of the stack)")
        cmd = [exe, "stack", "output", "--json"] + (["--stack", stack] if stack else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)
        if proc.returncode != 0:
            raise ClientError(f"`{' '.join(cmd[1:])}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise ClientError("`pulumi stack output --json` did not print JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), dict):
        raise ClientError("the stack outputs have no `endpoints` (has the stack been deployed with `pulumi up`?)")
    return data


def is_private(outputs: dict[str, Any], info: dict[str, Any]) -> bool:
    """Whether the call needs signing: the endpoint's `auth`, else the stack's `private` (default private)."""
    auth = info.get("auth")
    return auth != "none" if auth is not None else bool(outputs.get("private", True))


def region_from_url(url: str) -> str | None:
    """`us-east-1` from `https://abc.execute-api.us-east-1.amazonaws.com/pred`; None for other hosts."""
    match = _REGION_RE.search(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def google_token(audience: str | None = None, scopes: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """A Google token and, when none could be had, why: an ID token for `audience`, else an OAuth access token for
    `scopes`. Application Default Credentials first, then `gcloud auth print-identity-token` /
    `print-access-token`."""
    problem = ""
    try:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests
        import google.oauth2.id_token

        try:
            request = google.auth.transport.requests.Request()
            if audience is not None:
                return google.oauth2.id_token.fetch_id_token(request, audience), ""
            credentials, _ = google.auth.default(scopes=list(scopes))
            credentials.refresh(request)
            return str(credentials.token), ""
        except google.auth.exceptions.GoogleAuthError as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except ImportError as exc:
        problem = f"google-auth is not installed ({exc})"
    gcloud = shutil.which("gcloud")
    if gcloud:
        what = "print-identity-token" if audience is not None else "print-access-token"
        try:
            proc = subprocess.run([gcloud, "auth", what], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{problem}; gcloud: {exc}"
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip(), ""
        problem += f"; gcloud: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no token'}"
    return None, problem


def fetch_google_id_token(audience: str) -> str:
    """A Google ID token for `audience`: Application Default Credentials, else `gcloud auth print-identity-token`."""
    token, problem = google_token(audience=audience)
    if token is None:
        raise ClientError(f"the endpoint is private and no Google ID token could be obtained ({problem}). "
                          "Run `gcloud auth login` (your account must be in `invokers`), or use a service account "
                          "key via GOOGLE_APPLICATION_CREDENTIALS (`smodels invoke` also takes --token)")
    return token


# Replaced in tests; called with the audience (the function URL).
token_fetcher: Callable[[str], str] = fetch_google_id_token


def sigv4_headers(method: str, url: str, body: bytes, headers: Mapping[str, str], *, access_key_id: str,
                  secret_access_key: str, region: str, session_token: str | None = None,
                  now: dt.datetime | None = None, service: str = "execute-api") -> dict[str, str]:
    """`headers` plus SigV4 (`X-Amz-Date`, `Authorization`, and `X-Amz-Security-Token` with a session token) for
    `service` in `region`, computed by botocore; `now` (UTC) signs as of another time (a stale signature)."""
    from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    auth = SigV4Auth(Credentials(access_key_id, secret_access_key, session_token), service, region)
    if now is None:
        auth.add_auth(request)
    else:  # what add_auth does, at a given time
        request.context["timestamp"] = now.astimezone(dt.UTC).strftime(SIGV4_TIMESTAMP)
        auth._modify_request_before_signing(request)
        canonical = auth.canonical_request(request)
        auth._inject_signature_to_request(request, auth.signature(auth.string_to_sign(request, canonical), request))
    return dict(request.headers.items())


def sign(cloud: str, method: str, url: str, body: bytes, headers: dict[str, str], region: str | None = None,
         token: str | None = None) -> dict[str, str]:
    """`headers` signed for a private endpoint: AWS adds SigV4 for `execute-api` (`region`, else the URL's), GCP
    adds `Authorization: Bearer` with `token`, else one from `token_fetcher` for the URL. A URL of a registered
    local stack is signed for that stack instead (`sign_local`)."""
    local = local_access_for(url)
    if local is not None:
        return sign_local(local, method, url, body, headers, token=token)
    if cloud != "aws":
        return {**headers, "Authorization": f"Bearer {token or token_fetcher(url)}"}
    import botocore.session

    region = region or region_from_url(url)
    if not region:
        raise ClientError(f"cannot tell the AWS region from {url}")
    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        raise ClientError("the endpoint is private (AWS_IAM) and no AWS credentials were found: run `aws configure` "
                          "or set AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    frozen = credentials.get_frozen_credentials()
    return sigv4_headers(method, url, body, headers, access_key_id=frozen.access_key,
                         secret_access_key=frozen.secret_key, session_token=frozen.token, region=region)


# -- the local stack ---------------------------------------------------------------------------------------------

LOCAL_TOKEN_LIFETIME_S = 3600  # as Google's ID tokens
_TOKEN_REUSE_MARGIN_S = 300  # a cached token is minted again this long before it expires


def origin(url: str) -> str:
    """`http://127.0.0.1:8080` of `http://127.0.0.1:8080/pred?x=1` (scheme, host and port, lower-cased)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


@dataclass(frozen=True)
class LocalGcpEndpoint:
    """One Cloud Function of a local stack: its front's URL (the audience of its ID tokens) and runtime account."""

    name: str
    url: str
    runtime_account: str


@dataclass(frozen=True)
class LocalAccess:
    """How to call one running local stack: its key pair, its ID-token issuer, and which URLs are whose.

    Written by the stack to `<run dir>/access.json` (mode 0600: it holds the secret key and the issuer's private
    key); the state file names it (`state["local"]["access_file"]`). `private` is the stack's `public: false`.
    """

    stack: str
    private: bool
    region: str
    access_key_id: str
    secret_access_key: str
    issuer: str
    certs_url: str
    key_id: str
    private_key_pem: str
    deployer: str
    aws_url: str | None = None  # the AWS front, e.g. http://127.0.0.1:8080
    gcp: tuple[LocalGcpEndpoint, ...] = ()

    def origins(self) -> list[str]:
        """Every origin (scheme://host:port) the stack serves."""
        return [origin(u) for u in ([self.aws_url] if self.aws_url else []) + [g.url for g in self.gcp]]

    def cloud_of(self, url: str) -> str | None:
        """"aws" or "gcp" for a URL on one of the stack's fronts, else None."""
        o = origin(url)
        if self.aws_url and origin(self.aws_url) == o:
            return "aws"
        return "gcp" if self.gcp_endpoint(url) is not None else None

    def gcp_endpoint(self, url: str) -> LocalGcpEndpoint | None:
        """The Cloud Function whose front serves `url`."""
        o = origin(url)
        return next((g for g in self.gcp if origin(g.url) == o), None)

    def to_json(self) -> str:
        """The access file's text."""
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocalAccess:
        """The inverse of `to_json` (ClientError naming what is missing)."""
        try:
            fields = {f.name for f in dataclasses.fields(cls)}
            values = {k: v for k, v in data.items() if k in fields}
            values["gcp"] = tuple(LocalGcpEndpoint(**g) for g in data.get("gcp") or ())
            return cls(**values)
        except (TypeError, AttributeError) as exc:
            raise ClientError(f"the local stack's access file is not in the expected shape: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> LocalAccess:
        """Read an access file (ClientError when it is missing or unreadable)."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except OSError as exc:
            raise ClientError(f"cannot read the local stack's access file {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ClientError(f"the local stack's access file {path} is not JSON: {exc}") from None

    def write(self, path: Path) -> None:
        """Write the access file readable by its owner only (atomically)."""
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
        os.chmod(tmp, 0o600)
        tmp.replace(path)


_LOCAL: dict[str, LocalAccess] = {}
_LOCAL_LOCK = threading.Lock()


def register_local(access: LocalAccess) -> None:
    """Sign requests to `access`'s URLs with it from now on (in this process)."""
    with _LOCAL_LOCK:
        for o in access.origins():
            _LOCAL[o] = access


def unregister_local(access: LocalAccess) -> None:
    """Forget `access` (its stack stopped); URLs another stack registered since are kept."""
    with _LOCAL_LOCK:
        for o in access.origins():
            if _LOCAL.get(o) is access:
                del _LOCAL[o]


def local_access_for(url: str) -> LocalAccess | None:
    """The registered local stack serving `url`, if any."""
    with _LOCAL_LOCK:
        return _LOCAL.get(origin(url))


def use_local_outputs(outputs: Mapping[str, Any]) -> LocalAccess | None:
    """For outputs that are a local stack's state file (`.build/local/<stack>/state.json`): register its access,
    so that its private endpoints are signed for it; None for a deployed stack's outputs."""
    local = outputs.get("local")
    if not isinstance(local, Mapping) or not local.get("access_file"):
        return None
    access = LocalAccess.load(local["access_file"])
    register_local(access)
    return access


def local_state_outputs(project_dir: str | Path, stack: str) -> dict[str, Any]:
    """The state file of the running local stack `stack` (its endpoints, in the stack outputs' shape)."""
    from smodels.local_state import state_path

    path = state_path(Path(project_dir), stack)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClientError(f"no local stack {stack!r} is running ({path} is missing); start it with "
                          f"`smodels serve --stack {stack}`") from None
    except (OSError, ValueError) as exc:
        raise ClientError(f"cannot read the local stack's state {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), dict):
        raise ClientError(f"{path} has no `endpoints`: is it the state file of `smodels serve`?")
    return data


_SIGNERS: dict[tuple[str, str], Any] = {}
_TOKENS: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_TOKEN_LOCK = threading.Lock()


def _rsa_signer(access: LocalAccess) -> Any:
    from google.auth import crypt

    key = (access.key_id, access.private_key_pem)
    with _TOKEN_LOCK:
        signer = _SIGNERS.get(key)
        if signer is None:
            signer = _SIGNERS[key] = crypt.RSASigner.from_string(access.private_key_pem, key_id=access.key_id)
    return signer


def mint_id_token(access: LocalAccess, audience: str, email: str | None = None, *, now: float | None = None,
                  lifetime_s: int = LOCAL_TOKEN_LIFETIME_S) -> str:
    """An ID token of the local issuer: RS256, `aud` = `audience` (the function URL), `email` = `email` (default:
    the local deployer), issued at `now` (default: now) and valid `lifetime_s` seconds, the claims Google puts in
    the ID token of a user or a service account."""
    from google.auth import jwt

    email = email or access.deployer
    issued = int(time.time() if now is None else now)
    payload = {"iss": access.issuer, "aud": audience, "azp": email, "sub": email, "email": email,
               "email_verified": True, "iat": issued, "exp": issued + lifetime_s}
    return jwt.encode(_rsa_signer(access), payload).decode("ascii")


def local_id_token(access: LocalAccess, audience: str, email: str | None = None) -> str:
    """`mint_id_token` for now, reused until shortly before it expires (as google-auth reuses its tokens)."""
    email = email or access.deployer
    key = (access.issuer, access.key_id, audience, email)
    now = time.time()
    with _TOKEN_LOCK:
        cached = _TOKENS.get(key)
    if cached is not None and cached[1] - _TOKEN_REUSE_MARGIN_S > now:
        return cached[0]
    token = mint_id_token(access, audience, email, now=now)
    with _TOKEN_LOCK:
        _TOKENS[key] = (token, now + LOCAL_TOKEN_LIFETIME_S)
    return token


def sign_local(access: LocalAccess, method: str, url: str, body: bytes, headers: Mapping[str, str], *,
               token: str | None = None, email: str | None = None,
               now: dt.datetime | None = None) -> dict[str, str]:
    """`headers` signed for the local stack `access`: SigV4 with its key pair on its AWS front; on a GCP front,
    `Authorization: Bearer` with `token`, else an ID token for that function's URL and `email` (default: the
    local deployer). `now` (AWS) signs as of another time."""
    cloud = access.cloud_of(url)
    if cloud == "aws":
        return sigv4_headers(method, url, body, headers, access_key_id=access.access_key_id,
                             secret_access_key=access.secret_access_key, region=access.region, now=now)
    target = access.gcp_endpoint(url)
    if target is None:
        raise ClientError(f"{url} is not an endpoint of the local stack {access.stack!r} "
                          f"(its URLs: {', '.join(access.origins()) or 'none'})")
    return {**headers, "Authorization": f"Bearer {token or local_id_token(access, target.url, email)}"}


def sign_for_local(method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` signed for the private local stack registered for `url`; a copy unchanged for any other URL (a
    public stack, a test server)."""
    access = local_access_for(url)
    if access is None or not access.private:
        return dict(headers)
    return sign_local(access, method, url, body or b"", headers)


def send(method: str, url: str, body: bytes | None, headers: dict[str, str],
         timeout: float = 60.0) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of one HTTP(S) request; a 4xx/5xx is returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
