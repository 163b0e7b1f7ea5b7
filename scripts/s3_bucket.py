#!/usr/bin/env python3
"""Wait for an S3 endpoint and make sure a bucket exists (private): scripts/services.sh after it
starts SeaweedFS, and anyone setting up STORAGE_S3_* for the first time.

    .venv/bin/python scripts/s3_bucket.py --endpoint http://127.0.0.1:8333 --bucket portal-test [--wait 30]
    python scripts/s3_bucket.py [--wait 60]     # endpoint and bucket from STORAGE_S3_ENDPOINT_URL and
                                                # STORAGE_S3_BUCKET (docker-compose.yml's web)

Credentials come from STORAGE_S3_ACCESS_KEY_ID / STORAGE_S3_SECRET_ACCESS_KEY (SeaweedFS without
an S3 configuration accepts any). Exit 0 once a test object was written and read back.
"""

import argparse
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", default=os.environ.get("STORAGE_S3_ENDPOINT_URL") or None)
    parser.add_argument("--bucket", default=os.environ.get("STORAGE_S3_BUCKET") or None)
    parser.add_argument("--region", default=os.environ.get("STORAGE_S3_REGION", "us-east-1"))
    parser.add_argument("--wait", type=float, default=30.0)
    args = parser.parse_args()
    if not args.endpoint or not args.bucket:
        parser.error("give --endpoint and --bucket, or set STORAGE_S3_ENDPOINT_URL and STORAGE_S3_BUCKET")

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3", endpoint_url=args.endpoint, region_name=args.region,
        aws_access_key_id=os.environ.get("STORAGE_S3_ACCESS_KEY_ID") or "portal",
        aws_secret_access_key=os.environ.get("STORAGE_S3_SECRET_ACCESS_KEY") or "portal",
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    deadline = time.monotonic() + args.wait
    last = None
    while time.monotonic() < deadline:
        try:
            try:
                client.create_bucket(Bucket=args.bucket, ACL="private")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            client.put_object(Bucket=args.bucket, Key=".portal-ready", Body=b"ok")
            if client.get_object(Bucket=args.bucket, Key=".portal-ready")["Body"].read() == b"ok":
                print(f"s3: bucket {args.bucket} ready at {args.endpoint}")
                return 0
        except (BotoCoreError, ClientError, OSError) as exc:
            last = exc
        time.sleep(0.5)
    print(f"s3: ERROR: bucket {args.bucket} not ready at {args.endpoint} after {args.wait:.0f}s: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
