"""The few S3 requests the attachments' backup needs (list, put, get, delete), signed with AWS
Signature Version 4 over httpx: enough for MinIO and other S3-compatible services
without a cloud SDK on the server. Litestream does the store; this does the blobs.

Credentials from the environment, as Litestream reads them:
LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN). Requests are path-style
(endpoint/bucket/key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import xml.etree.ElementTree as ET
from urllib.parse import quote

import httpx

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Error(OSError):
    pass


def _credentials() -> tuple[str, str, str | None]:
    key = os.environ.get("LITESTREAM_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("LITESTREAM_SECRET_ACCESS_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise S3Error("no S3 credentials: set LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY")
    return key, secret, os.environ.get("AWS_SESSION_TOKEN")


class Bucket:
    def __init__(self, bucket: str, endpoint: str | None, region: str | None, timeout_s: float = 60.0):
        self.bucket = bucket
        self.region = region or "us-east-1"
        self.endpoint = (endpoint or f"https://s3.{self.region}.amazonaws.com").rstrip("/")
        self.http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    # --- signing (AWS Signature Version 4) ----------------------------------------------
    def _request(self, method: str, key: str = "", query: dict | None = None, body: bytes = b"") -> httpx.Response:
        access, secret, token = _credentials()
        now = dt.datetime.now(dt.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        url = httpx.URL(self.endpoint)
        path = f"{url.path.rstrip('/')}/{self.bucket}" + (f"/{quote(key, safe='/-_.~')}" if key else "")
        host = url.host + (f":{url.port}" if url.port else "")
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        if token:
            headers["x-amz-security-token"] = token
        q = sorted((quote(k, safe="-_.~"), quote(str(v), safe="-_.~")) for k, v in (query or {}).items())
        canonical_query = "&".join(f"{k}={v}" for k, v in q)
        signed = ";".join(sorted(headers))
        canonical = "\n".join([method, path, canonical_query,
                               "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
        for part in (self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, "
                                    f"Signature={signature}")
        full = f"{url.scheme}://{host}{path}" + (f"?{canonical_query}" if canonical_query else "")
        try:
            r = self.http.request(method, full, headers={k: v for k, v in headers.items() if k != "host"},
                                  content=body or None)
        except httpx.TransportError as e:
            raise S3Error(f"cannot reach {self.endpoint}: {type(e).__name__}") from e
        if r.status_code >= 300:
            raise S3Error(f"S3 {method} {self.bucket}/{key or ''} answered HTTP {r.status_code}: {r.text[:200]}")
        return r

    # --- the three operations --------------------------------------------------------------
    def keys(self, prefix: str) -> set[str]:
        out, token = set(), None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            root = ET.fromstring(self._request("GET", "", query).content)
            out.update(el.findtext(f"{_NS}Key") for el in root.iter(f"{_NS}Contents"))
            if root.findtext(f"{_NS}IsTruncated") != "true":
                return out
            token = root.findtext(f"{_NS}NextContinuationToken")

    def put(self, key: str, data: bytes) -> None:
        self._request("PUT", key, body=data)

    def get(self, key: str) -> bytes:
        return self._request("GET", key).content

    def delete(self, key: str) -> None:
        self._request("DELETE", key)
