"""Where documents' bytes live, behind one small interface: a local folder (the
default, `instance/documents`) or an S3-compatible bucket (`CLINIC_DOCUMENT_STORE=
s3://bucket/prefix`, through boto3, the `s3` extra; the endpoint and credentials come
from boto3's own settings, e.g. AWS_ENDPOINT_URL for MinIO)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from flask import current_app


class DocumentStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


class LocalStore:
    """Files under a folder, one per key, written atomically (temp file, then rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"bad document key {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        temporary.write_bytes(data)
        temporary.chmod(0o600)
        temporary.replace(path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()


class S3Store:
    """Objects in an S3-compatible bucket under a prefix."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ServerSideEncryption="AES256"
        )

    def get(self, key: str) -> bytes:
        answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        data: bytes = answer["Body"].read()
        return data


def store_for(setting: str) -> DocumentStore:
    if setting.startswith("s3://"):
        bucket, _, prefix = setting.removeprefix("s3://").partition("/")
        return S3Store(bucket, prefix)
    return LocalStore(setting)


def document_store() -> DocumentStore:
    """The app's store (one per app, built on first use)."""
    store = current_app.extensions.get("document_store")
    if store is None:
        store = store_for(current_app.config["CLINIC_DOCUMENT_STORE"])
        current_app.extensions["document_store"] = store
    return store
