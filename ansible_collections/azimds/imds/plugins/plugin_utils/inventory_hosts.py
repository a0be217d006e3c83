# -*- coding: utf-8 -*-
# Copyright: azimds contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""From raw source entries to named hosts: their facts, their names, duplicates reported.

The facts are those ``azimds.imds.metadata_facts`` sets under ``ansible_facts['azure_imds']``:
``shapes.ansible_facts`` of the normalized document, plus the keys the module adds to say
whether and where IMDS answered. Nothing here translates IMDS data itself.
"""

from __future__ import annotations

from ansible_collections.azimds.imds.plugins.module_utils.facts import model, shapes
from ansible_collections.azimds.imds.plugins.module_utils.imds.errors import AzimdsError
from ansible_collections.azimds.imds.plugins.module_utils.status import status_facts

# What each hostnames keyword reads from the facts (the entry for source_name).
HOSTNAME_KEYWORDS = {
    "computer_name": ("os_profile", "computer_name"),
    "name": ("name",),
    "vm_id": ("vm_id",),
    "private_ipv4": ("network", "primary_private_ipv4"),
    "public_ipv4": ("network", "primary_public_ipv4"),
    "resource_id": ("resource_id",),
    "resource_group": ("resource_group",),
    "source_name": None,
}
TAG_KEYWORD = "tag:"
DUPLICATE_CHOICES = ("vm_id", "skip", "fail")


class HostnameError(Exception):
    """The hostnames option or the duplicates found make the inventory impossible to build."""


def entry_facts(entry):
    """Return the azure_imds facts of a source entry.

    Raises:
        AzimdsError: the document is malformed (the message names the field).
    """
    if "facts" in entry:
        return entry["facts"]
    return document_facts(entry["document"], entry["api_version"], entry.get("endpoint"))


def document_facts(document, api_version, endpoint):
    """Return the facts the module would set for ``document`` served at ``api_version``.

    Raises:
        AzimdsError: the document is malformed.
    """
    instance = model.normalize(document, api_version)
    facts = shapes.ansible_facts(instance)
    # The keys metadata_facts adds beside the shape, as it sets them when IMDS answered.
    facts.update(status_facts("ok", None, endpoint, api_version))
    return facts


def facts_or_problem(entry):
    """Return (facts, None) or (None, problem message) for one entry."""
    try:
        facts = entry_facts(entry)
    except AzimdsError as exc:
        return None, " ".join(str(exc).split())
    if not isinstance(facts, dict):
        return None, "its facts are not a mapping"
    return facts, None


# -- hostnames ------------------------------------------------------------------------------


def parse_preferences(preferences):
    """Return the hostnames preferences as [(name keyword, prefix keyword or None, separator)].

    Each preference is a keyword (``computer_name``, ``name``, ``vm_id``, ``private_ipv4``,
    ``public_ipv4``, ``resource_id``, ``resource_group``, ``source_name``, ``tag:NAME``) or a
    mapping ``{name: KEYWORD, prefix: KEYWORD, separator: TEXT}``.

    Raises:
        HostnameError: an unknown keyword or a malformed entry.
    """
    parsed = []
    for preference in preferences:
        if isinstance(preference, str):
            parsed.append((checked_keyword(preference), None, "_"))
        elif isinstance(preference, dict) and isinstance(preference.get("name"), str):
            prefix = preference.get("prefix")
            separator = preference.get("separator", "_")
            if prefix is not None and not isinstance(prefix, str) or not isinstance(separator, str):
                raise HostnameError("hostnames: prefix and separator must be strings in %r" % (preference,))
            parsed.append((checked_keyword(preference["name"]),
                           checked_keyword(prefix) if prefix else None, separator))
        else:
            raise HostnameError("hostnames: each entry is a keyword or {name: KEYWORD, prefix: KEYWORD, "
                                "separator: TEXT}, not %r" % (preference,))
    if not parsed:
        raise HostnameError("hostnames: give at least one preference, e.g. [computer_name, name, vm_id]")
    return parsed


def checked_keyword(keyword):
    """Return ``keyword`` when it is a hostnames keyword.

    Raises:
        HostnameError: it is not one.
    """
    if keyword in HOSTNAME_KEYWORDS or (keyword.startswith(TAG_KEYWORD) and len(keyword) > len(TAG_KEYWORD)):
        return keyword
    raise HostnameError("hostnames: unknown keyword %r; use one of %s or tag:NAME"
                        % (keyword, ", ".join(sorted(HOSTNAME_KEYWORDS))))


def keyword_value(keyword, facts, entry):
    """Return the text ``keyword`` gives for a host, or None when it gives nothing."""
    if keyword == "source_name":
        value = entry.get("name")
    elif keyword.startswith(TAG_KEYWORD):
        value = tag_value(facts.get("tags"), keyword[len(TAG_KEYWORD):])
    else:
        value = facts_value(facts, HOSTNAME_KEYWORDS[keyword])
    if value is None or value == "":
        return None
    return str(value)


def facts_value(facts, path):
    """Return the value at ``path`` (a sequence of keys) in the facts, or None when a step
    is missing or leads through something that is not a mapping."""
    value = facts
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value


def tag_value(tags, name):
    """Return the value of tag ``name`` (Azure tag names are case-insensitive), or None."""
    if not isinstance(tags, dict):
        return None
    if name in tags:
        return tags[name]
    folded = name.casefold()
    for key in sorted(tags):
        if key.casefold() == folded:
            return tags[key]
    return None


def preferred_name(preferences, facts, entry):
    """Return the first name the preferences give for a host, or None."""
    for name_keyword, prefix_keyword, separator in preferences:
        name = keyword_value(name_keyword, facts, entry)
        if name is None:
            continue
        if prefix_keyword is None:
            return name
        prefix = keyword_value(prefix_keyword, facts, entry)
        if prefix is not None:
            return prefix + separator + name
    return None


def assign_names(hosts, preferences, on_duplicate):
    """Return ([(name, host)], problems): a unique name for each host, deterministically.

    ``hosts`` is a list of (entry, facts). The same VM (vmId) found twice is kept once, from
    the entry whose source sorts first. Hosts whose preferred name collides are all renamed
    to their vmId (``on_duplicate="vm_id"``), all left out (``"skip"``), or stop the
    inventory (``"fail"``); each collision is reported, never silently merged.

    Raises:
        HostnameError: ``on_duplicate="fail"`` and names collide.
    """
    problems = []
    by_vm = {}
    for entry, facts in sorted(hosts, key=lambda pair: str(pair[0]["source"])):
        vm_id = facts.get("vm_id")
        if vm_id and vm_id in by_vm:
            problems.append((entry["source"], "VM %s was already read from %s; kept that one"
                             % (vm_id, by_vm[vm_id][0]["source"])))
            continue
        by_vm[vm_id or ("no vmId", entry["source"])] = (entry, facts)
    named = {}
    for entry, facts in by_vm.values():
        name = preferred_name(preferences, facts, entry)
        if name is None:
            problems.append((entry["source"], "none of the hostnames preferences gives it a name"))
            continue
        named.setdefault(name, []).append((entry, facts))
    result = []
    collisions = {name: group for name, group in named.items() if len(group) > 1}
    if collisions and on_duplicate == "fail":
        raise HostnameError("hostnames: %s; set duplicate_hostnames to vm_id or skip, or add a "
                            "preference that tells these VMs apart" % "; ".join(
                                collision_text(name, group) for name, group in sorted(collisions.items())))
    for name, group in sorted(named.items()):
        if len(group) == 1:
            result.append((name, group[0]))
            continue
        what = collision_text(name, group)
        for entry, facts in group:
            vm_id = facts.get("vm_id")
            if on_duplicate == "vm_id" and vm_id and vm_id not in named:
                problems.append((entry["source"], "%s; named it %s (its vmId)" % (what, vm_id)))
                result.append((vm_id, (entry, facts)))
            else:
                problems.append((entry["source"], "%s; left it out" % what))
    return result, problems


def collision_text(name, group):
    """Return a sentence naming the VMs (by vmId) that share the host name ``name``."""
    ids = ", ".join(sorted(str(facts.get("vm_id")) for _entry, facts in group))
    return "host name %r is shared by %d VMs (vmIds %s)" % (name, len(group), ids)
