# -*- coding: utf-8 -*-
# Copyright: azimds contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Where the azure_imds inventory gets what each VM's IMDS said: the four sources.

Each reader returns ``(entries, problems)``. An entry is a JSON-serializable dict, the raw
input for one host, and is what the inventory cache stores (never built groups):

- ``{"source": ..., "name": ..., "facts": {...}}`` from the fact cache: the facts
  ``azimds.imds.metadata_facts`` set under ``ansible_facts['azure_imds']``;
- ``{"source": ..., "name": ..., "document": {...}, "api_version": ..., "endpoint": ...}``
  from IMDS or a document file: the instance document as IMDS served it.

``source`` says where the entry came from (a cache key, a file, a URL), ``name`` is the name the
source gives the host (or None). A problem is ``(source, message)``: one host that could not be
read, reported by the caller and skipped; it never stops the others.
"""

from __future__ import annotations

import glob
import json
import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.azimds.imds.plugins.module_utils.imds import body, versions
from ansible_collections.azimds.imds.plugins.module_utils.imds.client import Client
from ansible_collections.azimds.imds.plugins.module_utils.imds.errors import AzimdsError

FACTS_KEY = "azure_imds"
DOCUMENT_SUFFIXES = (".json",)


class SourceError(Exception):
    """A source as a whole cannot be read (bad configuration); the message says what to do."""


# -- fact_cache ---------------------------------------------------------------------------


def read_fact_cache(lister, reader):
    """Return (entries, problems, notes) for the hosts in Ansible's fact cache with azure_imds facts.

    Args:
        lister: the cache plugin that lists keys, with expiry off, so expired hosts are seen.
        reader: the cache plugin as configured (expiry on); its ``get`` gives a host's facts.

    Hosts whose facts have no ``azure_imds`` (never gathered with the module) are left out
    silently; hosts where it says IMDS was not available (not an Azure VM) are left out with a
    note, which is not a problem.
    """
    entries, problems, notes = [], [], []
    for key in sorted(cache_keys(lister)):
        try:
            cached = reader.get(key)
        except KeyError:
            problems.append((key, "its fact cache entry has expired (older than the cache timeout)"
                                  "; gather facts again with azimds.imds.metadata_facts"))
            continue
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Cache plugins raise what their backend raises: each is one host's problem.
            problems.append((key, "its fact cache entry cannot be read (%s); gather facts again "
                                  "with azimds.imds.metadata_facts" % one_line(exc)))
            continue
        if not isinstance(cached, dict) or FACTS_KEY not in cached:
            continue
        facts = cached[FACTS_KEY]
        if not isinstance(facts, dict):
            problems.append((key, "its cached %s facts are not a mapping" % FACTS_KEY))
            continue
        if facts.get("available") is False:
            notes.append((key, "IMDS was not available when its facts were gathered (%s)"
                               % (facts.get("status") or "no status")))
            continue
        entries.append({"source": key, "name": key, "facts": facts})
    return entries, problems, notes


def cache_keys(plugin):
    """Return the keys (host names) of a cache plugin as str.

    community.general.redis returns its keys as bytes, which ansible-core 2.19's cache wrapper
    cannot match against its (str) key prefix: those keys are decoded and unwrapped here.
    """
    try:
        return [text_key(key) for key in plugin.keys()]
    except TypeError:
        wrapped = getattr(plugin, "__wrapped__", None)
        if wrapped is None:
            raise
        prefix = getattr(plugin, "_get_wrapped_key_prefix", lambda: "")()
        keys = [text_key(key) for key in wrapped.keys()]
        return [key[len(prefix):] for key in keys if key.startswith(prefix)]


def text_key(key):
    """Return a cache key as str (UTF-8 decoded when a backend gives bytes)."""
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


# -- documents ----------------------------------------------------------------------------


def read_documents(patterns, base_dir):
    """Return (entries, problems) for the IMDS document files ``patterns`` name.

    A pattern is a file, a directory (its ``*.json`` files) or a glob; relative ones are taken
    from ``base_dir``. Each file holds what ``azimds get`` prints (the instance document), or
    ``{"api_version": "YYYY-MM-DD", "document": {...}}`` to say which version served it.
    """
    entries, problems = [], []
    for path in document_files(patterns, base_dir, problems):
        try:
            with open(path, "rb") as handle:
                content = body.loads(handle.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            problems.append((path, "not a readable JSON document (%s)" % one_line(exc)))
            continue
        document, api_version, error = unwrap_document(content)
        if error:
            problems.append((path, error))
            continue
        name = os.path.splitext(os.path.basename(path))[0]
        entries.append({"source": path, "name": name, "document": document,
                        "api_version": api_version, "endpoint": None})
    return entries, problems


def document_files(patterns, base_dir, problems):
    """Return the files ``patterns`` name, sorted and without repeats; note patterns matching none."""
    found = []
    for pattern in patterns:
        full = os.path.join(base_dir, os.path.expanduser(pattern))
        if os.path.isdir(full):
            matched = [os.path.join(full, name) for name in os.listdir(full)
                       if name.endswith(DOCUMENT_SUFFIXES)]
        else:
            matched = glob.glob(full)
        matched = [path for path in matched if os.path.isfile(path)]
        if not matched:
            problems.append((pattern, "no document file matches it"))
        found.extend(sorted(matched))
    seen = set()
    return [path for path in found if not (path in seen or seen.add(path))]


def unwrap_document(content):
    """Return (document, api_version, error) from a document file's JSON.

    The api-version is the wrapper's when there is one, else the oldest version that serves
    every field of the document (it may have been served at a newer one).
    """
    if isinstance(content, dict) and "document" in content and "api_version" in content:
        version = content["api_version"]
        if not isinstance(version, str) or not versions.is_well_formed(version):
            return None, None, "its api_version must be YYYY-MM-DD, not %r" % (version,)
        return content["document"], version, None
    if not isinstance(content, dict):
        return None, None, "not an IMDS instance document (a JSON object with compute and network)"
    return content, inferred_api_version(content), None


def inferred_api_version(document):
    """Return the oldest api-version that serves every field present in ``document``."""
    oldest = versions.OLDEST
    for path in field_paths(document, ""):
        introduced = versions.FIELD_INTRODUCED.get(path)
        if introduced is not None and introduced > oldest:
            oldest = introduced
    return oldest


def field_paths(node, path):
    """Yield the field-table paths (``compute.tagsList``, ``a.b[].c``) of every node under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = "%s.%s" % (path, key) if path else str(key)
            yield child
            yield from field_paths(value, child)
    elif isinstance(node, list):
        for item in node:
            yield from field_paths(item, path + "[]")


# -- endpoints and local --------------------------------------------------------------------


def endpoint_targets(items, base_dir):
    """Return [(base URL, name or None)] from base URLs and ``azimds emulator fleet`` manifests.

    Raises:
        SourceError: a manifest cannot be read or is not ``{"vms": [{"base_url": ...}, ...]}``.
    """
    targets = []
    for item in items:
        if item.startswith(("http://", "https://")):
            targets.append((item, None))
        else:
            targets.extend(manifest_targets(os.path.join(base_dir, os.path.expanduser(item))))
    return targets


def manifest_targets(path):
    """Return [(base URL, VM name)] from a manifest written by ``azimds emulator fleet``.

    Raises:
        SourceError: the file cannot be read or has not that shape.
    """
    try:
        with open(path, "rb") as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError("endpoints: cannot read the fleet manifest %s (%s); give base URLs "
                          "(http://...) or the JSON file azimds emulator fleet writes"
                          % (path, one_line(exc))) from None
    vms = manifest.get("vms") if isinstance(manifest, dict) else None
    if not isinstance(vms, list) or not all(
            isinstance(vm, dict) and isinstance(vm.get("base_url"), str) for vm in vms):
        raise SourceError('endpoints: %s is not a fleet manifest ({"vms": [{"base_url": ...}, ...]})'
                          % path)
    return [(vm["base_url"], vm.get("name") if isinstance(vm.get("name"), str) else None)
            for vm in vms]


def fetch_endpoints(targets, timeout, concurrency):
    """Return (entries, problems) from fetching each target's instance document.

    At most ``concurrency`` fetches are in flight; each has ``timeout`` seconds, retries
    included. Entries come back in the order of ``targets``.
    """
    workers = max(1, min(concurrency, len(targets)))

    def fetch(target):
        url, name = target
        try:
            document = Client(url, deadline=timeout).instance()
        except (AzimdsError, ValueError) as exc:
            return None, (url, one_line(exc))
        return {"source": url, "name": name, "document": document.data,
                "api_version": document.api_version, "endpoint": document.endpoint}, None

    entries, problems = [], []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for entry, problem in pool.map(fetch, targets):
            if entry is not None:
                entries.append(entry)
            else:
                problems.append(problem)
    return entries, problems


def fetch_local(endpoint, timeout):
    """Return (entries, problems) for this machine's own IMDS (detection first, as the module).

    Off Azure nothing is sent and the one problem says why.
    """
    try:
        client = Client(endpoint, deadline=timeout)
        document = client.instance()
    except (AzimdsError, ValueError) as exc:
        return [], [("local", one_line(exc))]
    return [{"source": "local", "name": None, "document": document.data,
             "api_version": document.api_version, "endpoint": document.endpoint,
             "connection": "local"}], []


def one_line(exc):
    """Return an exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
