# -*- coding: utf-8 -*-
# Copyright: azimds contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The azure_imds inventory's default keyed groups: which, named how, and as expressions.

The default groups are keyed groups (``prefix`` + ``_`` + value, made safe by the plugin as
every keyed group name is). They are computed here in Python rather than as Jinja
expressions: ansible-core 2.19 compiles an expression anew for every host, which costs
milliseconds per group per host, and a fleet has thousands of hosts. The same keys are
also offered as expressions, for a ``keyed_groups`` entry that overrides a default group's
options (``default_value``, ``separator``, ``parent_group``) without repeating its key.
"""

from __future__ import annotations

from ansible_collections.azimds.imds.plugins.plugin_utils.inventory_hosts import facts_value

TAG_PREFIX = "azure_tag"

# (prefix, path of the value in the facts, whether the value is a number)
DEFAULT_GROUPS = (
    ("azure_location", ("placement", "location"), False),
    ("azure_zone", ("placement", "zone"), False),
    ("azure_fault_domain", ("placement", "fault_domain"), True),
    ("azure_update_domain", ("placement", "update_domain"), True),
    ("azure_size", ("vm_size",), False),
    ("azure_scale_set", ("placement", "scale_set_name"), False),
    ("azure_resource_group", ("resource_group",), False),
)
DEFAULT_PREFIXES = tuple(group[0] for group in DEFAULT_GROUPS) + (TAG_PREFIX,)


def default_group_names(facts, replaced=()):
    """Return the raw (not yet made safe) default group names of a host's facts.

    A value that is absent (None or "") gives no group: a zone-less VM is in no zone group.
    Tag names are lower-cased (Azure compares them case-insensitively); values are kept.
    Groups whose prefix is in ``replaced`` are left to the user's keyed_groups.
    """
    names = []
    for prefix, path, _numeric in DEFAULT_GROUPS:
        if prefix in replaced:
            continue
        value = facts_value(facts, path)
        if value is not None and value != "":
            names.append("%s_%s" % (prefix, value))
    tags = facts.get("tags")
    if TAG_PREFIX not in replaced and isinstance(tags, dict):
        for name, value in tags.items():
            names.append("%s_%s_%s" % (TAG_PREFIX, str(name).lower(), "" if value is None else value))
    return names


def default_key_expression(prefix, var):
    """Return the Jinja expression of the default group ``prefix`` on the facts in ``var``.

    It gives the value's text, or None when the value is absent; for tags, a mapping of the
    lower-cased tag names to their values. None when ``prefix`` is not a default group.
    """
    if prefix == TAG_PREFIX:
        tags = "(%s.get('tags') or {})" % var
        return "dict(%s.keys() | map('lower') | zip(%s.values()))" % (tags, tags)
    for known, path, numeric in DEFAULT_GROUPS:
        if known == prefix:
            value = var + "".join(".get(%r, {})" % step for step in path[:-1]) + ".get(%r)" % path[-1]
            if numeric:
                return "(%s | string) if %s is not none else none" % (value, value)
            return value
    return None
