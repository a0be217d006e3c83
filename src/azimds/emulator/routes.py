"""What one emulated VM's IMDS answers to a request, without sockets.

Error bodies follow the documented style, ``{"error": "<Reason>. <what happened>"}``. Where
Microsoft documents a body (missing api-version, missing header, no load balancer) it is used
as documented; the rest are our choice, written down in docs/emulator.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..imds import versions
from ..imds.paths import walk
from ..imds.printable import printable
from .profile import VMProfile

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
NEWEST_SHOWN = 3
_CACHE_LIMIT = 2048

MSG_BAD_VERSION = (
    "Bad request. api-version is invalid or was not specified in the request. "
    "For more information refer to aka.ms/azureimds"
)
MSG_NO_HEADER = "Bad request. Required metadata header not specified"
MSG_FORWARDED = "Bad request. Requests with an X-Forwarded-For header are not allowed"
MSG_NO_LOADBALANCER = (
    "No load balancer metadata is found. Please check if your VM is using any non-basic SKU "
    "load balancer and retry later."
)


@dataclass
class Request:
    """One parsed HTTP request as the routes see it."""

    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    """What to send back: status, body, content type and any extra headers."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: List[Tuple[str, str]] = field(default_factory=list)


def json_response(
    status: int, payload: Any, headers: Optional[List[Tuple[str, str]]] = None
) -> Response:
    """Return a JSON response with ``payload`` serialized compactly, as IMDS sends it."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(status, body, JSON_TYPE, headers or [])


def error(status: int, message: str, **extra: Any) -> Response:
    """Return an IMDS-style JSON error response."""
    return json_response(status, {"error": message, **extra})


class VMRoutes:
    """The /metadata endpoints of one VM, answering from its profile.

    Successful answers are cached per (endpoint, node, version, format): a profile never
    changes while it is served.
    """

    def __init__(
        self,
        profile: VMProfile,
        attested: Optional[Callable[[str, Optional[str]], Response]] = None,
    ) -> None:
        self.profile = profile
        self._offered = frozenset(profile.api_versions)
        self._documents: Dict[str, Dict[str, Any]] = {}
        self._cache: Dict[Tuple[str, str, str, str], Response] = {}
        self._attested = attested

    def handle(self, request: Request) -> Response:
        """Return the response IMDS gives to ``request``."""
        path = request.path
        if not (path == "/metadata" or path.startswith("/metadata/")):
            return error(404, f"Not found. '{clip(path)}' is not an IMDS path; use /metadata/...")
        endpoint, _, rest = path[len("/metadata/") :].partition("/")
        if request.method != "GET":
            response = error(405, f"Method not allowed. Use GET on /metadata/{endpoint}")
            response.headers.append(("Allow", "GET"))
            return response
        if request.headers.get("metadata", "").strip().lower() != "true":
            return error(400, MSG_NO_HEADER)
        if "x-forwarded-for" in request.headers:
            return error(400, MSG_FORWARDED)
        for name, values in request.query.items():
            if len(values) > 1:
                return error(400, f"Bad request. Query parameter '{clip(name)}' is repeated")
        if endpoint == "versions" and not rest:
            return json_response(200, {"apiVersions": sorted(self._offered)})
        if endpoint == "instance":
            return self._instance(request, rest)
        if endpoint == "loadbalancer" and not rest:
            return self._loadbalancer(request)
        if endpoint == "attested" and rest == "document" and self._attested is not None:
            version, failure = self._version(request, "attested")
            if failure is not None:
                return failure
            return self._attested(version, _one(request.query, "nonce"))
        return error(404, f"Not found. '{clip(path)}' does not exist")

    def _version(self, request: Request, endpoint: str) -> Tuple[str, Optional[Response]]:
        """Return the requested api-version, or the 400 IMDS sends for a missing/unknown one."""
        version = _one(request.query, "api-version") or ""
        since = versions.ENDPOINT_INTRODUCED[endpoint]
        if version in self._offered and version >= since:
            return version, None
        usable = sorted((v for v in self._offered if v >= since), reverse=True)
        return version, error(400, MSG_BAD_VERSION, **{"newest-versions": usable[:NEWEST_SHOWN]})

    def document(self, version: str) -> Dict[str, Any]:
        """Return the instance document as ``version`` serves it."""
        document = self._documents.get(version)
        if document is None:
            document = versions.document_at(self.profile.instance, version)
            self._documents[version] = document
        return document

    def _instance(self, request: Request, rest: str) -> Response:
        version, failure = self._version(request, "instance")
        if failure is not None:
            return failure
        fmt = _one(request.query, "format") or "json"
        if fmt not in ("json", "text"):
            return error(
                400, f"Bad request. format '{clip(fmt)}' is not supported; use json or text"
            )
        key = ("instance", rest, version, fmt)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        segments = [s for s in rest.split("/")] if rest else []
        if segments and segments[-1] == "":
            segments.pop()  # a trailing slash names the same node
        found, node = walk(self.document(version), segments)
        if not found:
            shown = "/".join(["instance", *segments])
            return error(404, f"Not found. '{clip(shown)}' does not exist at api-version {version}")
        leaf = not isinstance(node, (dict, list))
        if leaf and (_one(request.query, "format") or "") != "text":
            return error(400, "Bad request. Querying a leaf node requires format=text")
        if fmt == "text":
            response = Response(200, _text(node).encode("utf-8"), TEXT_TYPE)
        else:
            response = json_response(200, node)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = response
        return response

    def _loadbalancer(self, request: Request) -> Response:
        _, failure = self._version(request, "loadbalancer")
        if failure is not None:
            return failure
        if self.profile.loadbalancer is None:
            return error(404, MSG_NO_LOADBALANCER)
        return json_response(200, {"loadbalancer": self.profile.loadbalancer})


def _one(query: Mapping[str, List[str]], name: str) -> Optional[str]:
    values = query.get(name)
    return values[0] if values else None


def _text(node: Any) -> str:
    """Return the text form of a node: a leaf's value, or a listing of a node's children.

    Children that are nodes themselves end in "/", as IMDS lists them.
    """
    if isinstance(node, dict):
        names = [f"{k}/" if isinstance(v, (dict, list)) else k for k, v in node.items()]
    elif isinstance(node, list):
        names = [f"{i}/" if isinstance(v, (dict, list)) else str(i) for i, v in enumerate(node)]
    else:
        return str(node)
    return "\n".join(names)


def clip(text: str, limit: int = 120) -> str:
    """Return ``text`` short and printable, for echoing a client's input in an error or log."""
    return printable(text, limit=limit)
