"""S3 and S3-compatible stores (MinIO, Cloudflare R2, Alibaba OSS, SeaweedFS) as the destination.

Configuration is boto3's own, so existing setups just work: credentials from the standard chain
or a named profile (AWS_PROFILE); the endpoint from the argument, AWS_ENDPOINT_URL_S3,
AWS_ENDPOINT_URL or the profile (botocore reads these itself); the region likewise. With a
custom endpoint, addressing is path-style unless the profile's ``s3.addressing_style`` says
otherwise (Alibaba OSS wants ``virtual``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import botocore.session
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
)

from transcreate.errors import StorageError
from transcreate.storage import MISSING, Lease, lease_body, lease_expired, object_key

_AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn")
_REFUSED = {
    "NoSuchBucket": "no such bucket; create it or correct the name",
    "AccessDenied": "access denied; the credentials need s3:ListBucket, s3:GetObject and "
    "s3:PutObject on it (check AWS_PROFILE or AWS_ACCESS_KEY_ID)",
    "InvalidAccessKeyId": "the endpoint does not know this access key; check AWS_PROFILE or "
    "AWS_ACCESS_KEY_ID, and that the endpoint is the one the key belongs to",
    "SignatureDoesNotMatch": "the request signature was refused; check the secret key "
    "(AWS_SECRET_ACCESS_KEY or the profile) and the region",
}
# Header-safe metadata: printable ASCII stays as it is, anything else is percent-encoded UTF-8.
_METADATA_SAFE = "".join(chr(c) for c in range(32, 127) if chr(c) != "%")
_CONFLICTS = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
LEASES = ".transcreate/leases"


class S3Storage:
    """Objects under ``s3://bucket/prefix``. Each PUT is atomic: a reader (or a re-run after a
    crash) sees the whole object or none, so there is no temporary-then-rename step."""

    lookups = 10  # a look is a HEAD round trip; botocore keeps 10 connections per client

    def __init__(
        self,
        destination: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        public_base_url: str | None = None,
        presign_seconds: int = 7 * 24 * 3600,
        client: Any | None = None,
    ):
        self.bucket, self.prefix = _split(destination)
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.presign_seconds = presign_seconds
        self.location = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.transfer = TransferConfig(
            multipart_threshold=16 * 2**20, multipart_chunksize=8 * 2**20
        )
        if client is None:
            client = _client(destination, endpoint_url, region, profile)
        self.client = client
        self.endpoint = str(self.client.meta.endpoint_url)

    def name(self, key: str) -> str:
        """The object name for ``key``: the prefix, then the key's sanitized segments."""
        if object_key(*key.split("/")) != key:
            raise StorageError(f"{key!r}: refused, not a sanitized key under {self.location}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        """The stable ``s3://`` name of the object (no credentials, never expires)."""
        return f"s3://{self.bucket}/{self.name(key)}"

    def put(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        # Size and SHA-256 travel with the object, so `verify` can tell a complete object from
        # one somebody else put at the key (an empty file, a stray upload).
        integrity = {"sha256": hashlib.sha256(data).hexdigest(), "size": str(len(data))}
        extra = {
            "ContentType": content_type,
            "Metadata": {
                _metadata_name(name): quote(value, _METADATA_SAFE)
                for name, value in {**(metadata or {}), **integrity}.items()
            },
            "ChecksumAlgorithm": "SHA256",  # the server verifies it (per part when multipart)
        }
        try:  # managed transfer: one PUT for small bodies, a multipart upload for large ones
            self.client.upload_fileobj(
                io.BytesIO(data), self.bucket, self.name(key), ExtraArgs=extra, Config=self.transfer
            )
        except (BotoCoreError, ClientError, Boto3Error) as error:
            raise self._error(error, self.uri(key), "cannot write") from None
        return self.uri(key)

    def verify(self, key: str) -> str | None:
        """None when the object is complete: its size is the one recorded at ``put`` (whose
        SHA-256 the store itself checked on upload, and a PUT is atomic). An object without that
        record must at least decode as an image."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.name(key))
        except (BotoCoreError, ClientError) as error:
            if isinstance(error, ClientError) and _refusal(error) == "no such object":
                return MISSING
            raise self._error(error, self.uri(key), "cannot look up") from None
        size = int(head.get("ContentLength", 0))
        metadata = head.get("Metadata") or {}
        if size == 0:
            return "the stored object is empty"
        if metadata.get("sha256") and str(metadata.get("size", "")).isdigit():
            if int(metadata["size"]) != size:
                return f"the stored object is {size:,} bytes, but {metadata['size']} were written"
            return None
        from PIL import Image  # only for objects written by something else

        try:
            with Image.open(io.BytesIO(self.get(key))) as image:
                image.load()
        except Exception:  # any failure to decode means the same: not a usable output
            return "the stored object is not a readable image"
        return None

    def append(self, key: str, data: bytes) -> None:
        """S3 has no append: each call is one small object under ``<key without .jsonl>/``,
        named by time so that a listing reads in order."""
        folder = key.removesuffix(".jsonl")
        part = f"{folder}/{time.time_ns():020d}-{secrets.token_hex(4)}.jsonl"
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.name(part),
                Body=data,
                ContentType="application/x-ndjson",
            )
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, self.uri(part), "cannot write") from None

    def lease(self, key: str, seconds: float) -> Lease | None:
        """A conditional write (If-None-Match: *) creates the lease; an expired one is replaced
        with If-Match on its ETag, so of two runs taking over, exactly one wins."""
        self.name(key)  # refuses a key that is not sanitized
        name = f"{self.prefix}/{LEASES}/{key}.lease".lstrip("/")
        token = secrets.token_hex(12)
        body = lease_body(token, seconds)
        condition: dict[str, str] = {"IfNoneMatch": "*"}
        for _ in range(3):
            try:
                answer = self.client.put_object(
                    Bucket=self.bucket,
                    Key=name,
                    Body=body,
                    ContentType="application/json",
                    **condition,
                )
            except ClientError as error:
                if str(error.response.get("Error", {}).get("Code", "")) not in _CONFLICTS:
                    raise self._error(error, f"s3://{self.bucket}/{name}", "cannot lease") from None
                if "IfMatch" in condition:
                    return None  # another run took the expired lease first
            except BotoCoreError as error:
                raise self._error(error, f"s3://{self.bucket}/{name}", "cannot lease") from None
            else:
                return Lease(key, token, functools.partial(self._release, name, answer["ETag"]))
            try:
                current = self.client.get_object(Bucket=self.bucket, Key=name)
                with current["Body"] as stream:
                    held = stream.read()
            except ClientError as error:
                if _refusal(error) == "no such object":
                    condition = {"IfNoneMatch": "*"}  # released meanwhile: try to create it
                    continue
                raise self._error(error, f"s3://{self.bucket}/{name}", "cannot lease") from None
            if not lease_expired(held):
                return None
            condition = {"IfMatch": str(current["ETag"])}
        return None

    def _release(self, name: str, etag: str) -> None:
        # If-Match: only this lease, never one another run took over after it expired.
        # Taken over, or gone: either way it is not ours to remove.
        with contextlib.suppress(BotoCoreError, ClientError):
            self.client.delete_object(Bucket=self.bucket, Key=name, IfMatch=etag)

    def url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{quote(self.name(key))}"
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.name(key)},
                ExpiresIn=self.presign_seconds,
            )
        )

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``."""
        return self.read_uri(self.uri(key))

    def read_uri(self, uri: str, max_bytes: int | None = None) -> bytes:
        """Read an input (campaign file, base image) from ``s3://bucket/key``, any bucket."""
        bucket, name = _split(uri)
        try:
            response = self.client.get_object(Bucket=bucket, Key=name)
            with response["Body"] as body:
                size = int(response["ContentLength"])
                if max_bytes is not None and size > max_bytes:
                    raise StorageError(f"{uri}: {size:,} bytes; the limit is {max_bytes:,}")
                return bytes(body.read())
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, uri, "cannot read") from None

    def check(self) -> None:
        """Fail fast, with one clear StorageError, when the destination cannot be used."""
        try:
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except (BotoCoreError, ClientError) as error:
            raise self._error(error, self.location, "cannot use") from None

    def _error(self, error: Exception, target: str, doing: str) -> StorageError:
        """What went wrong and what to check; names bucket and endpoint, never a credential."""
        where = f"{target} at {self.endpoint}"
        if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
            reason = "the endpoint is unreachable; check it (AWS_ENDPOINT_URL_S3) and the network"
        elif isinstance(error, NoCredentialsError):
            reason = "no credentials; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        elif isinstance(error, ClientError):
            reason = _refusal(error)
        else:
            reason = f"{type(error).__name__}: {error}"
        return StorageError(f"{where}: {doing}, {reason}")

    def __repr__(self) -> str:
        return f"S3Storage({self.location!r}, endpoint_url={self.endpoint!r})"


def _split(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise StorageError(f"{uri}: expected s3://bucket or s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


def _refusal(error: ClientError) -> str:
    detail = error.response.get("Error", {})
    code = str(detail.get("Code", ""))
    if code in ("NoSuchKey", "404"):
        return "no such object"
    if code == "403":  # the answer to a HEAD has no body to say more
        return (
            "refused (HTTP 403): wrong credentials, or no s3:GetObject; AWS also answers 403 "
            "for a missing object without s3:ListBucket. check() names the cause"
        )
    return _REFUSED.get(code) or f"{code}: {detail.get('Message', '')}"


def _metadata_name(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in name.lower())


def _client(
    destination: str, endpoint_url: str | None, region: str | None, profile: str | None
) -> Any:
    try:
        core = botocore.session.Session(profile=profile)
        session = boto3.Session(botocore_session=core, region_name=region)
        # Where botocore itself would send requests: the argument, the env, or the profile.
        endpoint = endpoint_url or session.client("s3").meta.endpoint_url
    except BotoCoreError as error:
        raise StorageError(f"{destination}: cannot configure S3 ({error})") from None
    custom = not str(urlsplit(endpoint).hostname or "").endswith(_AWS_HOSTS)
    configured = (core.get_config_variable("s3") or {}).get("addressing_style")
    config = Config(
        signature_version="s3v4",  # presigned URLs too: SigV2 is gone from AWS and most stores
        s3={"addressing_style": configured or ("path" if custom else "auto")},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
    )
    return session.client("s3", endpoint_url=endpoint if custom else None, config=config)
