"""Why a download failed, in one line: for the crawl's summary and `sources list`."""

from __future__ import annotations

from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from techcal.crawler.middlewares import RefusedAddress, retry_after_seconds

HTTP_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def describe_failure(failure: Failure, url: str) -> str:
    """Return one line saying why fetching ``url`` failed, for the summary and `sources list`."""
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadCancelledError,
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
        IgnoreRequest,
    )
    from twisted.internet import error as twisted_errors

    exc = failure.value
    if isinstance(exc, RefusedAddress):
        return str(exc)
    if isinstance(exc, HttpError):
        return http_failure(exc.response, url)
    if isinstance(exc, DownloadTimeoutError | twisted_errors.TimeoutError):
        return f"{url}: no complete answer within the download timeout"
    if isinstance(exc, DownloadCancelledError):
        return f"{url}: the body is larger than the download size limit"
    if isinstance(exc, DownloadConnectionRefusedError | twisted_errors.ConnectionRefusedError):
        return f"{url}: connection refused"
    if isinstance(exc, CannotResolveHostError | twisted_errors.DNSLookupError):
        return f"{url}: host name not found"
    if isinstance(exc, IgnoreRequest):
        return request_dropped(str(exc), url)
    if isinstance(exc, OSError) and url.startswith("file:") and exc.strerror:
        return f"{url}: cannot read it ({exc.strerror})"
    message = str(exc).strip() or type(exc).__name__
    return f"{url}: {message}"


def http_failure(response: Response, url: str) -> str:
    """Return the line of an error status, with the wait the server asked for."""
    status = response.status
    reason = HTTP_REASONS.get(status, "")
    asked = retry_after(response)
    text = f"{url}: HTTP {status}{' ' + reason if reason else ''}"
    if asked:
        text += f" (the server asks to wait {duration(asked)})"
    return text


def request_dropped(text: str, url: str) -> str:
    """Return the line of a request a middleware dropped (robots.txt, redirects, size)."""
    if "robots.txt" in text:
        return f"{url}: robots.txt does not allow fetching it"
    if "redirect" in text.lower():
        return f"{url}: too many redirects (a redirect loop?)"
    if "MAXSIZE" in text.upper().replace("_", "").replace(" ", ""):
        once = " once decompressed" if "decompress" in text else ""
        return f"{url}: the body is larger than the download size limit{once}"
    return f"{url}: {text or 'request dropped'}"


def retry_after(response: Response | None) -> float | None:
    """Return the seconds a response's ``Retry-After`` asks to wait, or None."""
    if response is None:
        return None
    return retry_after_seconds(response.headers.get(b"Retry-After"))


def duration(seconds: float) -> str:
    """Return a wait in the unit that reads best.

    >>> duration(90), duration(600), duration(36000)
    ('90 s', '10 min', '10.0 h')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
