"""Where the portal's files live (issue 13): every file goes through Django's storage API
(`STORAGES["default"]`), so web machines share nothing but the database, Redis and the bucket.

- `LocalStorage` (the embedded default): MEDIA_ROOT on this machine. A write goes to a temporary
  file beside the target and is renamed over it, so a reader sees the old file or the new one,
  never half of one; writing a name that exists replaces it (exports are rewritten in place).
- `PrivateS3Storage` (with STORAGE_S3_BUCKET set): an S3-compatible bucket through django-storages
  and boto3 — SeaweedFS in CI and docker-compose, any S3 service in production. Objects are
  private; the portal serves them itself after its permission checks and never hands out a
  bucket URL (`url()` refuses).

`open_stream(name)` reads a stored file in chunks for a response (a GET's body straight from S3,
never the whole object in memory); `put(name, content)` stores bytes or a file under exactly that
name.
"""

import os
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.utils import validate_file_name
from django.utils.functional import LazyObject, empty

CHUNK = 256 * 1024


class LocalStorage(FileSystemStorage):
    """MEDIA_ROOT, with atomic writes that replace an existing file of the same name."""

    def get_available_name(self, name, max_length=None):
        validate_file_name(name, allow_relative_path=True)
        return name

    def _save(self, name, content):
        full_path = Path(self.path(name))
        full_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=full_path.parent, prefix=".tmp-", suffix=full_path.suffix)
        try:
            with os.fdopen(fd, "wb") as handle:
                if hasattr(content, "seek"):
                    try:
                        content.seek(0)
                    except (OSError, ValueError):
                        pass
                for chunk in content.chunks(CHUNK) if hasattr(content, "chunks") else iter(lambda: content.read(CHUNK), b""):
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644 if self.file_permissions_mode is None else self.file_permissions_mode)
            os.replace(tmp, full_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return name


def _s3_base():
    from storages.backends.s3 import S3Storage

    return S3Storage


class PrivateS3Storage(_s3_base()):
    """django-storages' S3 backend: private objects, overwritten in place, no URLs."""

    def __init__(self, **settings):
        settings.setdefault("default_acl", "private")
        settings.setdefault("file_overwrite", True)
        settings.setdefault("querystring_auth", True)
        # An object read whole through File.open() spills to disk beyond 1 MB.
        settings.setdefault("max_memory_size", 1024 * 1024)
        super().__init__(**settings)

    def url(self, name, *args, **kwargs):
        raise NotImplementedError("Stored files are served by the portal after its permission checks, never by a bucket URL.")

    def _save(self, name, content):
        """A file that is on disk (an upload's temporary file, a ZIP built in a temporary file) is
        sent from its path: boto3 then reads each multipart part from the file as it sends it.
        Given an open file object instead, it reads every part (8 MB) into memory first, several
        at once (s3transfer's UploadSeekableInputManager): a 10 MB evidence upload raised the web
        worker's peak memory by 8.1 MiB, from its path by 2.1 MiB (bench/evidence.py, tiny run)."""
        path = _disk_path(content)
        if path is None or self.gzip:
            return super()._save(name, content)
        from storages.utils import clean_name

        cleaned_name = clean_name(name)
        key = self._normalize_name(cleaned_name)
        params = self._get_write_parameters(key, content)
        self.bucket.Object(key).upload_file(path, ExtraArgs=params, Config=self.transfer_config)
        return cleaned_name


def _disk_path(content) -> str | None:
    """The path of the whole file behind `content`, if it is a regular file on disk."""
    for candidate in (getattr(content, "temporary_file_path", None), getattr(getattr(content, "file", None), "name", None)):
        try:
            path = candidate() if callable(candidate) else candidate
        except (AttributeError, NotImplementedError):
            continue
        if isinstance(path, str) and os.path.isfile(path) and os.path.getsize(path) == content.size:
            return path
    return None


def is_local(storage=None) -> bool:
    return isinstance(storage or _wrapped(default_storage), FileSystemStorage)


def _wrapped(storage):
    """The storage itself behind `default_storage` (a lazy object)."""
    if isinstance(storage, LazyObject):
        if storage._wrapped is empty:
            storage._setup()
        return storage._wrapped
    return storage


def put(name: str, content, storage=None) -> str:
    """Store `content` (bytes or a file) under exactly `name`, replacing what was there."""
    storage = storage or default_storage
    if isinstance(content, bytes | bytearray):
        content = ContentFile(bytes(content))
    elif not isinstance(content, File):
        content = File(content)
    saved = storage.save(name, content)
    if saved != name:  # a storage that renames instead of replacing would break every reader
        raise RuntimeError(f"storage stored {name!r} as {saved!r}")
    return saved


class _Stream:
    """A file-like view of an S3 GET body: read() in chunks, close(), size."""

    def __init__(self, body, size: int):
        self._body = body
        self.size = size

    def read(self, amount=-1):
        return self._body.read(None if amount is None or amount < 0 else amount)

    def close(self):
        self._body.close()


def open_stream(name: str, storage=None):
    """The stored file opened for reading in chunks (FileResponse's block size), with `.size`.
    Raises FileNotFoundError when there is no such file."""
    storage = _wrapped(storage or default_storage)
    if isinstance(storage, FileSystemStorage):
        handle = open(storage.path(name), "rb")
        handle.size = os.fstat(handle.fileno()).st_size
        return handle
    if hasattr(storage, "bucket"):
        from botocore.exceptions import ClientError
        from storages.utils import clean_name

        try:
            answer = storage.bucket.Object(storage._normalize_name(clean_name(name))).get()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(name) from None
            raise
        return _Stream(answer["Body"], answer["ContentLength"])
    handle = storage.open(name, "rb")
    handle.size = storage.size(name)
    return handle


def read_bytes(name: str, storage=None) -> bytes:
    stream = open_stream(name, storage)
    try:
        return stream.read()
    finally:
        stream.close()


def copy_to(name: str, target, storage=None) -> None:
    """Copy a stored file into an open binary file `target`, in chunks."""
    stream = open_stream(name, storage)
    try:
        while chunk := stream.read(CHUNK):
            target.write(chunk)
    finally:
        stream.close()
