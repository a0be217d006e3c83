"""The control API under ``/azimds/`` on each VM's base URL (outside ``/metadata``).

``GET /azimds/vm`` describes the VM; ``/azimds/faults`` lists (GET), adds (POST) and clears
(DELETE) its scripted faults; ``GET /azimds/requests`` shows its recent requests;
``GET /azimds/attested/...`` serves the test CA's certificates. Everything else on the base
URL goes to the VM itself.
"""

from __future__ import annotations

import json

from .faults import FaultError, fault_from_mapping
from .http import Outcome
from .routes import Request, Response, error, json_response
from .vm import VM

PREFIX = "/azimds"
JOURNAL_SHOWN = 500


class ControlAPI:
    """What one VM's base URL answers: the control API itself, everything else by the VM."""

    def __init__(self, vm: VM) -> None:
        self.vm = vm
        self.name = vm.name

    def respond(self, request: Request) -> Outcome:
        """Return the answer to ``request``: a control-API answer or the VM's."""
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            return Outcome(self.answer(request))
        return self.vm.respond(request)

    def answer(self, request: Request) -> Response:
        """Return the control API's answer to a request under /azimds."""
        vm = self.vm
        path, method = request.path.rstrip("/"), request.method
        if path == "/azimds/vm" and method == "GET":
            return json_response(
                200, {**vm.profile.summary(), "base_url": vm.base_url, "profile": vm.profile.source}
            )
        if path.startswith("/azimds/attested/") and method == "GET":
            return vm.authority.serve(path)
        if path == "/azimds/faults":
            if method == "GET":
                return json_response(200, {"faults": vm.faults.listing(vm.clock())})
            if method == "DELETE":
                vm.clear_faults()
                return json_response(200, {"faults": []})
            if method == "POST":
                return self._post_faults(request)
        if path == "/azimds/requests" and method == "GET":
            records = list(vm.journal)[-JOURNAL_SHOWN:]
            shown = [
                {
                    "method": r.method,
                    "path": r.path,
                    "query": r.query,
                    "headers": r.headers,
                    "status": r.status,
                    "at": r.at,
                }
                for r in records
            ]
            return json_response(200, {"requests": shown})
        if path in ("/azimds/vm", "/azimds/faults", "/azimds/requests"):
            return error(405, f"Method not allowed. See 'azimds emulator serve --help' for {path}")
        return error(
            404, "Not found. Control API paths: /azimds/vm, /azimds/faults, /azimds/requests"
        )

    def _post_faults(self, request: Request) -> Response:
        try:
            payload = json.loads(request.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[...
            return error(400, "Bad request. Send a JSON fault object or a list of them")
        specs = payload if isinstance(payload, list) else [payload]
        try:
            faults = [fault_from_mapping(spec) for spec in specs]
        except FaultError as exc:
            return error(400, f"Bad request. {exc}")
        for fault in faults:
            self.vm.faults.add(fault)
        return json_response(201, {"faults": self.vm.faults.listing(self.vm.clock())})
