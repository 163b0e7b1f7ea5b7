"""佐证材料 and object storage (issue 13): what a web worker pays for a 10 MB upload and a 10 MB
download, and what an export costs in S3 against the local disk.

- **Upload**: a 10 MB PDF posted to the officer's evidence page. The request goes to Django's WSGI
  handler as gunicorn hands it over — `wsgi.input` is read from a file on disk, so the body is
  never in this process's memory before Django reads it (the test Client would copy it whole).
  Measured: the request's time and the *peak* resident memory of this process during it, above
  its resident memory before (the kernel's high-water mark is reset first: /proc/self/clear_refs).
  Streamed to a temporary file, checked and copied to the storage in chunks, the peak must stay
  far below the file: target ≤ 30 % of its size (boto3 reading the parts of an open file into
  memory cost 81 %; sent from the temporary file's path, 21 %: portal.storage.PrivateS3Storage).
- **Download**: the same file served to the officer (FileResponse over the storage's stream, read
  in chunks as a server sends it); time, peak memory, and the floor: reading the stored file in
  the same chunks without Django.
- **Export to S3 vs local disk**: `exporting.write_files` of the public probe with
  STORAGES["default"] on the local disk and in SeaweedFS's bucket (scripts/services.sh, 127.0.0.1:8333;
  skipped when it does not answer), interleaved; the ratio of the medians.

Upload and download are measured on both storages when S3 answers.
"""

import gc
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.handlers.wsgi import WSGIHandler
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, override_settings
from django.test.client import encode_multipart
from django.urls import reverse

from assessments import exporting
from assessments.models import Evidence

MB = 1024 * 1024
FILE_MB = 10
PEAK_LIMIT = 0.3  # of the file's size: held whole it would be ≥ 100 %, boto3's in-memory parts were 81 %
S3_ENDPOINT = os.environ.get("BENCH_S3_ENDPOINT", "http://127.0.0.1:8333")
S3_BUCKET = os.environ.get("BENCH_S3_BUCKET", "portal-test")
BOUNDARY = "BenchEvidenceBoundary"


def big_pdf(megabytes: int = FILE_MB) -> bytes:
    """A well-formed PDF of about `megabytes` MB: one page and a large binary image stream (never
    scanned: raw stream data is skipped by the check)."""
    payload = os.urandom(megabytes * MB - 600)
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" \
           b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n" \
           b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 4 0 R >> >> >>\nendobj\n"
    image = b"4 0 obj\n<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /BitsPerComponent 8 /ColorSpace /DeviceGray " \
            b"/Length %d >>\nstream\n" % len(payload) + payload + b"\nendstream\nendobj\n"
    return head + image + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def s3_storages(prefix: str) -> dict | None:
    """STORAGES with the default in SeaweedFS's bucket under `prefix`, or None when S3 does not answer."""
    try:
        import boto3
        from botocore.config import Config

        client = boto3.client("s3", endpoint_url=S3_ENDPOINT, region_name="us-east-1", aws_access_key_id="portal",
                              aws_secret_access_key="portal",
                              config=Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 1},
                                            s3={"addressing_style": "path"}))
        client.head_bucket(Bucket=S3_BUCKET)
    except Exception:  # noqa: BLE001 - any failure: not available
        return None
    return {
        **settings.STORAGES,
        "default": {"BACKEND": "portal.storage.PrivateS3Storage", "OPTIONS": {
            "bucket_name": S3_BUCKET, "endpoint_url": S3_ENDPOINT, "region_name": "us-east-1", "access_key": "portal",
            "secret_key": "portal", "location": prefix, "addressing_style": "path", "signature_version": "s3v4",
            "use_ssl": False}},
    }


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


def _peak() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _measured(fn):
    """(seconds, peak bytes above the resident memory before) of fn()."""
    gc.collect()
    before = _rss()
    _reset_peak()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    return elapsed, max(0, _peak() - before), result


class _Upload:
    """A POST of a prepared multipart body to the WSGI handler, its body read from a file."""

    def __init__(self, officer, path: str, body_file: Path, length: int):
        client = Client()
        client.force_login(officer)
        self.session = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.csrf = _get_new_csrf_string()
        self.path, self.body_file, self.length = path, body_file, length
        self.handler = WSGIHandler()

    def __call__(self) -> int:
        status = []
        with open(self.body_file, "rb") as body:
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": self.path, "SCRIPT_NAME": "", "QUERY_STRING": "",
                "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": "testserver", "wsgi.url_scheme": "http", "wsgi.input": body, "wsgi.errors": None,
                "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}", "CONTENT_LENGTH": str(self.length),
                "HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={self.session}; {settings.CSRF_COOKIE_NAME}={self.csrf}",
                "HTTP_X_CSRFTOKEN": self.csrf, "REMOTE_ADDR": "127.0.0.1",
            }
            response = self.handler(environ, lambda s, headers, exc_info=None: status.append(int(s.split()[0])))
            for _ in response:
                pass
            response.close()
        return status[0]


def _serve(client, url: str) -> int:
    response = client.get(url)
    size = 0
    for chunk in response.streaming_content:  # as a server sends it, chunk by chunk
        size += len(chunk)
    response.close()
    return size


def _read_floor(name: str) -> int:
    from portal import storage

    stream = storage.open_stream(name)
    size = 0
    try:
        while chunk := stream.read(FileResponseBlock):
            size += len(chunk)
    finally:
        stream.close()
    return size


FileResponseBlock = 4096 * 16  # django.http.FileResponse.block_size (64 KiB)


def _summary(samples: list[float]) -> dict:
    return {"median_ms": round(statistics.median(samples) * 1000, 1), "min_ms": round(min(samples) * 1000, 1),
            "n": len(samples)}


def _one_storage(label: str, officer, assessment, reps: int, work: Path, log) -> dict:
    data = big_pdf()
    body = encode_multipart(BOUNDARY, {"kind": "evidence", "title": "基准测试扫描件", "note": "", "indicator": "",
                                       "files": _named(data, "scan.pdf")})
    body_file = work / f"evidence-body-{uuid.uuid4().hex}.bin"
    body_file.write_bytes(body)
    del body
    url = reverse("assessments:evidence", args=[assessment.pk])
    upload = _Upload(officer, url, body_file, body_file.stat().st_size)
    client = Client()
    client.force_login(officer)
    up_times, up_peaks, get_times, get_peaks, floor_times = [], [], [], [], []
    try:
        for rep in range(reps + 1):  # the first: warm-up (boto3 loads its S3 model, threads start), not kept
            seconds, peak, status = _measured(upload)
            if status != 302:
                raise RuntimeError(f"evidence upload ({label}) answered {status}")
            item = Evidence.objects.filter(assessment=assessment).latest("id")
            up_times.append(seconds)
            up_peaks.append(peak)
            file_url = reverse("assessments:evidence_file", args=[assessment.pk, item.pk])
            seconds, peak, size = _measured(lambda file_url=file_url: _serve(client, file_url))
            if size != len(data):
                raise RuntimeError(f"served {size} bytes of {len(data)} ({label})")
            get_times.append(seconds)
            get_peaks.append(peak)
            seconds, _, _ = _measured(lambda item=item: _read_floor(item.file.name))
            floor_times.append(seconds)
            name = item.file.name
            item.delete()
            default_storage.delete(name)
            if rep == 0:
                for samples in (up_times, up_peaks, get_times, get_peaks, floor_times):
                    samples.clear()
    finally:
        body_file.unlink(missing_ok=True)
    result = {
        "storage": label,
        "file_bytes": len(data),
        "upload": {"time": _summary(up_times), "peak_mib": round(max(up_peaks) / MB, 1),
                   "peak_share": round(max(up_peaks) / len(data), 3)},
        "serve": {"time": _summary(get_times), "peak_mib": round(max(get_peaks) / MB, 1),
                  "floor": _summary(floor_times),
                  "ratio_floor": round(statistics.median(get_times) / statistics.median(floor_times), 2),
                  "mib_per_s": round(len(data) / MB / statistics.median(get_times), 1)},
    }
    log(f"  evidence {label}: upload {result['upload']['time']['median_ms']} ms (peak +{result['upload']['peak_mib']} MiB), "
        f"serve {result['serve']['time']['median_ms']} ms (peak +{result['serve']['peak_mib']} MiB, "
        f"{result['serve']['ratio_floor']}× reading the stored file)")
    return result


def _named(data: bytes, name: str):
    import io

    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _export_ratio(pk: int, storages_s3: dict, reps: int, log) -> dict:
    local, remote = [], []
    for _ in range(reps + 1):  # the first of each: warm-up
        t0 = time.perf_counter()
        exporting.write_files(pk)
        local.append(time.perf_counter() - t0)
        with override_settings(STORAGES=storages_s3):
            t0 = time.perf_counter()
            exporting.write_files(pk)
            remote.append(time.perf_counter() - t0)
    local, remote = local[1:], remote[1:]
    result = {"local": _summary(local), "s3": _summary(remote),
              "ratio": round(statistics.median(remote) / statistics.median(local), 2)}
    log(f"  export of one report: local disk {result['local']['median_ms']} ms, S3 {result['s3']['median_ms']} ms "
        f"({result['ratio']}×)")
    return result


def _delete_prefix(storages_s3: dict) -> None:
    import boto3

    options = storages_s3["default"]["OPTIONS"]
    bucket = boto3.resource("s3", endpoint_url=options["endpoint_url"], region_name="us-east-1",
                            aws_access_key_id="portal", aws_secret_access_key="portal").Bucket(options["bucket_name"])
    bucket.objects.filter(Prefix=options["location"] + "/").delete()


def run(officer, draft, published_pk: int, reps: int, work: Path, log=print) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    prefix = f"bench-{int(time.time())}-{uuid.uuid4().hex[:8]}"
    storages_s3 = s3_storages(prefix)
    results = {"file_mib": FILE_MB, "storages": {}, "s3": storages_s3 is not None}
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        results["storages"]["local"] = _one_storage("local", officer, draft, reps, Path(scratch), log)
        if storages_s3 is None:
            log(f"  S3 ({S3_ENDPOINT}, bucket {S3_BUCKET}) does not answer: S3 rows skipped")
            results["export"] = None
            return results
        try:
            with override_settings(STORAGES=storages_s3):
                results["storages"]["s3"] = _one_storage("s3", officer, draft, reps, Path(scratch), log)
            results["export"] = _export_ratio(published_pk, storages_s3, reps, log)
        finally:
            _delete_prefix(storages_s3)
    return results


def targets(result: dict) -> list[dict]:
    out = []
    for label, r in result["storages"].items():
        share = r["upload"]["peak_share"]
        out.append({
            "id": f"evidence:upload_peak_{label}",
            "what": f"a {FILE_MB} MB evidence upload ({label}) is streamed: the web worker's peak memory grows by "
                    f"≤ {PEAK_LIMIT:.0%} of the file",
            "limit": f"≤ {PEAK_LIMIT:.0%}", "value": f"{share:.1%} (+{r['upload']['peak_mib']} MiB)",
            "ratio": round(share / PEAK_LIMIT, 2), "met": share <= PEAK_LIMIT, "case": None,
        })
    return out
