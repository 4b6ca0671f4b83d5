"""S3 requests that reach the gateway (a client with only ``AWS_ENDPOINT_URL`` set) are streamed
to the S3 server unchanged. The Host header is kept, so SigV4 signatures still verify there."""

from __future__ import annotations

import logging

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

log = logging.getLogger(__name__)

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade"}


class S3Proxy:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.endpoint, timeout=httpx.Timeout(300, connect=5),
                                         follow_redirects=False)

    async def forward(self, request: Request) -> Response:
        headers = [(k, v) for k, v in request.headers.raw
                   if k.decode("latin-1").lower() not in _HOP_BY_HOP]
        url = httpx.URL(path=request.url.path, query=request.url.query.encode())
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
        out_headers = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP}
        return StreamingResponse(response.aiter_raw(), status_code=response.status_code,
                                 headers=out_headers, background=BackgroundTask(response.aclose))

    async def close(self) -> None:
        await self._client.aclose()
