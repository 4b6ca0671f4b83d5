"""A hostile web page in a real browser (Debian's Chromium through Playwright) against smlocal
(issue 18, item 3): a page on another origin (another local port) tries fetch() and form POSTs to the
SageMaker API and to S3 through the gateway, and a page whose name was rebound to 127.0.0.1 (DNS
rebinding, simulated with Chromium's host resolver rules) tries the same from the gateway's own
origin. Everything is refused, with SMLOCAL_AUTH on and off, and nothing is created."""

from __future__ import annotations

import http.server
import json
import shutil
import tempfile
import threading

import boto3
import pytest
from botocore.config import Config
from console.conftest import CHROMIUM_ARGS, chromium_path
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway

from emulator.config import S3Settings

BUCKET = "browser-attacks"
JOB = {"TrainingJobName": "pwned-by-a-web-page", "RoleArn": "arn:aws:iam::123456789012:role/r",
       "AlgorithmSpecification": {"TrainingImage": "alpine:3", "TrainingInputMode": "File"},
       "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
       "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
       "StoppingCondition": {"MaxRuntimeInSeconds": 60}}

# Runs in the attacker's page; every attempt reports what the page could learn.
ATTACK = """
async ([api, bucket, job]) => {
  const results = {};
  const attempt = async (name, fn) => {
    try {
      const r = await fn();
      results[name] = {status: r.status, type: r.type, body: (await r.text()).slice(0, 300)};
    }
    catch (e) { results[name] = {error: String(e)}; }
  };
  await attempt("create_training_job", () => fetch(api + "/", {method: "POST", body: JSON.stringify(job),
      headers: {"X-Amz-Target": "SageMaker.CreateTrainingJob", "Content-Type": "application/x-amz-json-1.1"}}));
  await attempt("simple_post", () => fetch(api + "/", {method: "POST", body: "Action=GetCallerIdentity",
      headers: {"Content-Type": "application/x-www-form-urlencoded"}}));
  await attempt("no_cors_post", () => fetch(api + "/", {method: "POST", mode: "no-cors",
      body: "Action=GetCallerIdentity&Version=2011-06-15",
      headers: {"Content-Type": "application/x-www-form-urlencoded"}}));
  await attempt("s3_list", () => fetch(api + "/" + bucket + "?list-type=2"));
  await attempt("s3_get", () => fetch(api + "/" + bucket + "/secret.txt"));
  await attempt("s3_put", () => fetch(api + "/" + bucket + "/pwned-put.txt", {method: "PUT", body: "pwned"}));
  await attempt("s3_no_cors_put", () => fetch(api + "/" + bucket + "/pwned-nocors.txt",
      {method: "POST", mode: "no-cors", body: "pwned"}));
  await attempt("invoke", () => fetch(api + "/endpoints/e/invocations", {method: "POST", body: "1",
      headers: {"Content-Type": "text/csv"}}));
  // a classic form POST (no CORS at all): multipart upload to the bucket, and a query action
  const frame = document.createElement("iframe"); frame.name = "sink"; document.body.appendChild(frame);
  const form = document.createElement("form");
  form.method = "POST"; form.action = api + "/" + bucket; form.enctype = "multipart/form-data"; form.target = "sink";
  for (const [k, v] of [["key", "pwned-form.txt"], ["file", "pwned"]]) {
    const input = document.createElement("input"); input.name = k; input.value = v; form.appendChild(input);
  }
  document.body.appendChild(form);
  const loaded = new Promise(resolve => frame.onload = resolve);
  form.submit();
  await Promise.race([loaded, new Promise(resolve => setTimeout(resolve, 5000))]);
  return results;
}
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>innocent page</title><p>nothing to see</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def attacker_site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def chromium(playwright_instance):
    """Chromium that resolves rebound.example to 127.0.0.1, as a rebinding attacker's DNS would."""
    profile = tempfile.mkdtemp(prefix="smlocal-attack-")
    context = playwright_instance.chromium.launch_persistent_context(
        profile, executable_path=chromium_path(), headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebound.example 127.0.0.1"])
    context.set_default_timeout(30_000)
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def s3_direct(embedded_s3):
    client = boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name=REGION, aws_access_key_id=S3_ACCESS,
                          aws_secret_access_key=S3_SECRET)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="secret.txt", Body=b"the user's data")
    return client


@pytest.fixture(params=["auth on", "auth off"])
def target(request, tmp_path, embedded_s3, s3_direct, monkeypatch):
    monkeypatch.setenv("SMLOCAL_AUTH", "on" if request.param == "auth on" else "off")
    s3 = S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)
    with live_gateway(tmp_path, s3=s3) as gateway:
        yield gateway


def _nothing_was_done(gateway, s3_direct) -> None:
    sm = boto3.client("sagemaker", endpoint_url=gateway.url, region_name=REGION, aws_access_key_id=S3_ACCESS,
                      aws_secret_access_key=S3_SECRET, config=Config(retries={"max_attempts": 1}))
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    keys = {o["Key"] for o in s3_direct.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert keys == {"secret.txt"}, keys


def _assert_refused(results: dict, rebound: bool) -> None:
    for name, outcome in results.items():
        if "error" in outcome:
            assert "Failed to fetch" in outcome["error"], (name, outcome)     # CORS refused: nothing readable
        elif outcome["type"] == "opaque":
            assert outcome["status"] == 0 and outcome["body"] == "", (name, outcome)   # no-cors: nothing readable
        else:
            # only a rebound (same-origin) page can read answers, and they are the Host refusal
            assert rebound, (name, outcome)
            assert outcome["status"] == 403 and "DNS rebinding" in outcome["body"], (name, outcome)
        assert "the user's data" not in json.dumps(outcome)


def test_a_page_from_another_origin_is_refused(chromium, attacker_site, target, s3_direct):
    page = chromium.new_page()
    page.goto(attacker_site + "/")
    results = page.evaluate(ATTACK, [target.url, BUCKET, JOB])
    page.close()
    assert set(results) == {"create_training_job", "simple_post", "no_cors_post", "s3_list", "s3_get", "s3_put",
                            "s3_no_cors_put", "invoke"}
    _assert_refused(results, rebound=False)
    # fetch() without no-cors cannot even see a status: the preflight or the missing CORS header stop it
    assert all("error" in results[n] for n in ("create_training_job", "s3_put", "s3_get", "simple_post"))
    _nothing_was_done(target, s3_direct)


def test_a_rebound_page_on_the_gateways_own_port_is_refused(chromium, target, s3_direct):
    """DNS rebinding: the page's origin is http://rebound.example:<gateway port>, now resolving to
    127.0.0.1, so its requests are same-origin (no CORS at all) and reach the gateway. The attacker's
    script runs in a document of that origin (the console's own refusal page: any document will do,
    and one served from loopback keeps Chromium's local-network checks out of the way)."""
    origin = f"http://rebound.example:{target.port}"
    page = chromium.new_page()
    assert page.goto(origin + "/_smlocal/").status == 403
    results = page.evaluate(ATTACK, [origin, BUCKET, JOB])
    page.close()
    _assert_refused(results, rebound=True)
    readable = [name for name, outcome in results.items() if "status" in outcome and outcome["type"] == "basic"]
    assert {"create_training_job", "s3_put", "s3_get", "invoke"} <= set(readable), results
    _nothing_was_done(target, s3_direct)
