"""S3 requests that reach the gateway (``smlocal env`` points ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_S3`` here) are streamed to the S3 server. The Host header is kept, so SigV4
signatures still verify there. The one rewrite: SSE-KMS headers, which the S3 stand-ins cannot honour
without a KMS, are removed and the request signed again (``emulator.s3.sse``)."""

from __future__ import annotations

import logging

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from emulator.s3 import sse

log = logging.getLogger(__name__)

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade"}


class S3Proxy:
    def __init__(self, endpoint: str, access_key: str = "", secret_key: str = "") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.keys = (access_key, secret_key)
        self._client = httpx.AsyncClient(base_url=self.endpoint, timeout=httpx.Timeout(300, connect=5),
                                         follow_redirects=False)

    async def forward(self, request: Request) -> Response:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                   if k.decode("latin-1").lower() not in _HOP_BY_HOP]
        kms = sse.wants_kms(headers) and all(self.keys)
        if kms:
            resigned = sse.strip_kms(request.method, request.scope.get("raw_path", b"").decode("latin-1"),
                                     request.url.query, headers, *self.keys)
            kms, headers = resigned is not None, resigned or headers
        try:
            url = httpx.URL(path=request.url.path, query=request.url.query.encode())
        except (httpx.InvalidURL, ValueError):      # a NUL or another character no URL may carry
            body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidURI</Code>'
                    "<Message>Couldn't parse the specified URI.</Message></Error>")
            return Response(body, status_code=400, media_type="application/xml")
        upstream = self._client.build_request(request.method, url, headers=headers,
                                              content=request.stream())
        try:
            response = await self._client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            log.warning("S3 server %s unreachable: %s", self.endpoint, exc)
            body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
                    f"<Message>The S3 server behind smlocal ({self.endpoint}) is not answering: "
                    f"{type(exc).__name__}. Is `smlocal status` healthy?</Message></Error>")
            return Response(body, status_code=503, media_type="application/xml")
        # the S3 server's own CORS answers (SeaweedFS allows every origin) never reach a browser:
        # api/guard.py decides CORS
        out_headers = {k: v for k, v in response.headers.items()
                       if k.lower() not in _HOP_BY_HOP and not k.lower().startswith("access-control-")}
        if kms and response.status_code < 300:
            out_headers["x-amz-server-side-encryption"] = "aws:kms"  # what S3 answers for SSE-KMS writes
        return StreamingResponse(response.aiter_raw(), status_code=response.status_code,
                                 headers=out_headers, background=BackgroundTask(response.aclose))

    async def close(self) -> None:
        await self._client.aclose()
