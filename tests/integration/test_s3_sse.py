"""SSE-KMS through the gateway's S3 endpoint: what the SageMaker SDK sends when it uploads code
(`ServerSideEncryption: aws:kms`, no key) works although the S3 stand-in has no KMS, and the S3
server's own checks still apply to everything else."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from support import S3_ACCESS, S3_SECRET

pytestmark = pytest.mark.docker


def client(gateway, key: str = S3_ACCESS, secret: str = S3_SECRET):
    return boto3.client("s3", endpoint_url=gateway.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def test_sse_kms_puts_are_stored_and_read_back(jobs_gateway, bucket, embedded_s3):
    s3 = client(jobs_gateway)
    put = s3.put_object(Bucket=bucket, Key="sse/code/sourcedir.tar.gz", Body=b"code", ServerSideEncryption="aws:kms")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket=bucket, Key="sse/code/sourcedir.tar.gz")["Body"].read() == b"code"
    keyed = s3.put_object(Bucket=bucket, Key="sse/with key id.txt", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId="arn:aws:kms:us-east-1:123456789012:key/abc")
    assert keyed["ResponseMetadata"]["HTTPStatusCode"] == 200
    # multipart (the SDK's transfer manager above 8 MiB) carries the header on CreateMultipartUpload
    import io

    from boto3.s3.transfer import TransferConfig
    s3.upload_fileobj(io.BytesIO(b"m" * (9 * 1024 * 1024)), bucket, "sse/big.bin",
                      ExtraArgs={"ServerSideEncryption": "aws:kms"},
                      Config=TransferConfig(multipart_threshold=8 * 1024 * 1024))
    assert s3.head_object(Bucket=bucket, Key="sse/big.bin")["ContentLength"] == 9 * 1024 * 1024


def test_requests_with_other_keys_are_not_resigned(jobs_gateway, bucket):
    s3 = client(jobs_gateway, "someone-else", "not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as error:
        s3.put_object(Bucket=bucket, Key="sse/intruder", Body=b"x", ServerSideEncryption="aws:kms")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403, 500)
    forged = client(jobs_gateway, S3_ACCESS, "wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError):
        forged.put_object(Bucket=bucket, Key="sse/forged", Body=b"x", ServerSideEncryption="aws:kms")
    listed = client(jobs_gateway).list_objects_v2(Bucket=bucket, Prefix="sse/")
    assert {o["Key"] for o in listed.get("Contents", [])}.isdisjoint({"sse/intruder", "sse/forged"})
