# -*- coding: utf-8 -*-
# Copyright: azimds contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Inventory plugin azimds.imds.azure_imds: Azure VMs grouped by what their IMDS says."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: azure_imds
short_description: Azure VMs grouped by zone, fault and update domain, size and tags, from IMDS
version_added: 0.1.0
description:
  - Builds an inventory of Azure VMs from what each VM's Instance Metadata Service (IMDS) said -
    zone, fault and update domain, region, size, scale set, resource group and tags - with no
    credentials, no SDK and no control-plane call, so nothing is throttled and no host goes
    missing because an API was slow.
  - IMDS is link-local, so a controller cannot ask another VM's IMDS. The plugin reads what
    each VM's IMDS said, wherever it was collected. O(source=fact_cache) (the default) reads the
    facts C(azimds.imds.metadata_facts) left in Ansible's fact cache (gather first, then
    group); O(source=local) asks this machine's own IMDS; O(source=documents) reads saved
    instance documents; O(source=endpoints) fetches from IMDS base URLs such as an emulated
    fleet's.
  - Every host is in the group C(azure_imds) and, unless O(default_groups=false), in
    C(azure_location_<region>), C(azure_zone_<zone>) (zone-less VMs in none),
    C(azure_fault_domain_<n>), C(azure_update_domain_<n>), C(azure_size_<vm size>),
    C(azure_scale_set_<name>), C(azure_resource_group_<name>) and C(azure_tag_<name>_<value>)
    for each tag (tag names lower-cased, as Azure treats them case-insensitively; values as
    they are). Group names are made safe as Ansible makes every keyed group name safe.
  - The facts are set as the host variable C(azure_imds) (O(hostvars_prefix) in front of it),
    exactly as C(azimds.imds.metadata_facts) sets C(ansible_facts['azure_imds']). Values that
    come from IMDS are never templated - a tag value holding C({{ ... }}) stays that text.
  - Per-host problems (an expired or unreadable fact cache entry, a malformed document file,
    an endpoint that does not answer, a duplicate host name) are reported with the host's
    source and skipped; the other hosts are still built.
  - The config file's name must end in C(azure_imds.yml) or C(azure_imds.yaml).
author:
  - azimds contributors (!UNKNOWN)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; it makes the file this plugin's.
    required: true
    type: str
    choices: [azimds.imds.azure_imds, azure_imds]
  source:
    description:
      - Where the IMDS data comes from.
      - V(fact_cache) - the C(azure_imds) facts C(azimds.imds.metadata_facts) stored in Ansible's
        fact cache, read through the cache plugin (C(jsonfile), C(community.general.redis), ...),
        one host per cache entry, named as the entry unless O(hostnames) says otherwise. Hosts
        whose facts say IMDS was not available are left out (shown with C(-v)).
      - V(local) - this machine's own IMDS, one host with C(ansible_connection=local)
        (ansible-pull, a runner on the VM). Off Azure nothing is sent and no host is built.
      - V(documents) - the IMDS instance documents in O(documents), one host per file.
      - V(endpoints) - the instance document of each IMDS in O(endpoints), fetched concurrently.
    type: str
    choices: [fact_cache, local, documents, endpoints]
    default: fact_cache
  fact_cache_plugin:
    description:
      - The cache plugin holding the facts, for O(source=fact_cache).
      - When not set, the fact cache Ansible is configured with (C(fact_caching) in
        C(ansible.cfg), E(ANSIBLE_CACHE_PLUGIN)), with its own connection, prefix and timeout
        settings unless the options below are set. Ansible's default C(memory) keeps nothing
        between runs and cannot be used.
    type: str
  fact_cache_connection:
    description: The fact cache's connection (a folder for C(jsonfile), C(host:port:db) for redis).
    type: str
  fact_cache_prefix:
    description: The fact cache's key prefix.
    type: str
  fact_cache_timeout:
    description:
      - Seconds after which a fact cache entry has expired; C(0) for never. Expired hosts are
        reported and left out.
    type: int
  documents:
    description:
      - For O(source=documents) - files, folders (their C(*.json) files) or globs, relative to
        the folder of this config file.
      - Each file holds one VM's instance document as C(azimds get) prints it. Its api-version is
        taken to be the oldest that serves every field in it. To say exactly which version served
        it, wrap it in a JSON object with the keys C(api_version) (C(YYYY-MM-DD)) and C(document).
    type: list
    elements: str
    default: []
  endpoints:
    description:
      - For O(source=endpoints) - IMDS base URLs (C(http://127.0.0.1:8169)), or the JSON manifest
        C(azimds emulator fleet) writes (relative to the folder of this config file), whose VMs
        are named as the manifest names them for O(hostnames=[source_name]).
    type: list
    elements: str
    default: []
  endpoint:
    description:
      - For O(source=local) - the IMDS base URL to ask. When not set, E(AZIMDS_ENDPOINT), and
        then C(http://169.254.169.254) if this machine is an Azure VM (its DMI chassis asset tag
        says so); E(AZIMDS_DISABLE=1) sends nothing.
    type: str
  timeout:
    description:
      - Seconds one fetch may take, retries included (O(source=local) and O(source=endpoints)).
        A host whose IMDS has not answered by then is reported and left out.
    type: float
    default: 10
  max_concurrency:
    description: For O(source=endpoints), how many fetches may be in flight at once.
    type: int
    default: 32
  hostnames:
    description:
      - How hosts are named - the first preference that gives a host a name is used.
      - Keywords - V(computer_name) (the OS host name), V(name) (the VM name), V(vm_id),
        V(private_ipv4) and V(public_ipv4) (the primary addresses), V(resource_id),
        V(resource_group), V(source_name) (the fact cache entry's name, the document file's name
        without C(.json), or the VM name in a fleet manifest) and C(tag:NAME) (a tag's value).
      - A preference can also be a mapping with the keys C(name) (a keyword), C(prefix) (a
        keyword) and C(separator) (text, default C(_)). For example, name V(name) with prefix
        V(resource_group) gives C(myrg_web1).
      - When not set, V(source_name) for O(source=fact_cache) (the names the hosts were gathered
        under), otherwise V(computer_name), then V(name), then V(vm_id).
    type: list
    elements: raw
  duplicate_hostnames:
    description:
      - What to do when two VMs get the same name; every such collision is reported.
      - V(vm_id) names each of the colliding VMs by its vmId instead.
      - V(skip) leaves all of them out; V(fail) stops the inventory source with an error.
      - The same VM (the same vmId) read twice is kept once.
    type: str
    choices: [vm_id, skip, fail]
    default: vm_id
  host_address:
    description:
      - The address set as C(ansible_host) - the primary private IPv4 address, the primary
        public one, or V(none) to set nothing. O(compose) can set C(ansible_host) from anything.
    type: str
    choices: [private_ipv4, public_ipv4, none]
    default: private_ipv4
  hostvars_prefix:
    description: Put this in front of the host variable C(azure_imds), for example C(my_).
    type: str
    default: ''
  default_groups:
    description:
      - Add the default groups listed above. Each is named as a O(keyed_groups) entry with that
        C(prefix) would name it, and an entry of O(keyed_groups) with the same C(prefix)
        (C(azure_zone), C(azure_tag), ...) replaces it. Such an entry without a C(key) gets the
        default group's key, so an entry with prefix C(azure_zone) and default_value C(none) puts zone-less VMs
        in C(azure_zone_none) and changes nothing else.
      - The default groups are computed without Jinja. Each expression in O(compose), O(groups)
        and O(keyed_groups) is compiled by ansible-core for every host (milliseconds each on
        ansible-core 2.19), which matters for thousands of hosts.
    type: bool
    default: true
  include:
    description:
      - Conditions on the facts (Jinja expressions, the facts as C(azure_imds)); when set, only
        hosts for which one of them is true are built. Applied before any group.
    type: list
    elements: str
    default: []
  exclude:
    description:
      - Conditions on the facts; hosts for which one of them is true are left out. Applied
        after O(include), before any group.
    type: list
    elements: str
    default: []
notes:
  - With O(cache=true) the raw documents (or cached facts) are kept in the inventory cache, never
    the groups - O(compose), O(groups) and O(keyed_groups) are applied again on every run, cache
    hit or not.
  - A fact cache entry that the C(jsonfile) cache plugin cannot parse is deleted by that plugin
    (Ansible's own behaviour); the host is reported and left out until facts are gathered again.
seealso:
  - module: azimds.imds.metadata_facts
"""

EXAMPLES = r"""
# Two phases. First gather, into a fact cache that outlives the run (ansible.cfg):
#   [defaults]
#   fact_caching = jsonfile
#   fact_caching_connection = ~/.ansible/facts
# ansible-playbook -i hosts.ini gather.yml   (a play running azimds.imds.metadata_facts)
# Then group, with this file as the inventory (e.g. fleet.azure_imds.yml):
plugin: azimds.imds.azure_imds
source: fact_cache

---
# The same, over a Redis fact cache shared by several controllers:
plugin: azimds.imds.azure_imds
fact_cache_plugin: community.general.redis
fact_cache_connection: 127.0.0.1:6379:0

---
# On the VM itself (ansible-pull): one host, local connection.
plugin: azimds.imds.azure_imds
source: local

---
# Saved instance documents (azimds get > docs/web1.json), named by file:
plugin: azimds.imds.azure_imds
source: documents
documents: [docs/]
hostnames: [source_name]

---
# An emulated fleet (azimds emulator fleet fleet.yaml writes azimds-fleet.json):
plugin: azimds.imds.azure_imds
source: endpoints
endpoints: [azimds-fleet.json]
max_concurrency: 64

---
# Production only, zone-less VMs in azure_zone_none, a group per role, names from a tag:
plugin: azimds.imds.azure_imds
include:
  - azure_imds.tags.Environment | default('') == 'prod'
hostnames: ['tag:Name', computer_name]
keyed_groups:
  - prefix: azure_zone
    key: azure_imds.placement.zone
    default_value: none
  - prefix: role
    key: azure_imds.tags.Role | default(omit)
compose:
  ansible_host: azure_imds.network.primary_public_ipv4
groups:
  spot: azure_imds.priority == 'Spot'
"""

import os

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.plugins.loader import cache_loader

from ansible_collections.azimds.imds.plugins.plugin_utils import inventory_groups as groups_of
from ansible_collections.azimds.imds.plugins.plugin_utils import inventory_hosts as hosts
from ansible_collections.azimds.imds.plugins.plugin_utils import inventory_sources as sources

try:  # ansible-core 2.19 and newer render only strings trusted as templates; IMDS data never is
    from ansible.template import trust_as_template
except ImportError:  # older cores render every string they meet: mark IMDS data unsafe instead
    trust_as_template = None
    from ansible.utils.unsafe_proxy import wrap_var
else:
    wrap_var = None

CONFIG_SUFFIXES = ("azure_imds.yml", "azure_imds.yaml")
ALL_GROUP = "azure_imds"
FACTS_VAR = "azure_imds"
DEFAULT_HOSTNAMES = ("computer_name", "name", "vm_id")


def trusted(expression):
    """Return an expression this plugin wrote itself, marked as a template it may render."""
    return trust_as_template(expression) if trust_as_template is not None else expression


def untrusted(value):
    """Return data from IMDS as a value no core will ever render as a template."""
    return wrap_var(value) if wrap_var is not None else value


def plugin_option(plugin, name, absent):
    """Return a plugin's option ``name``, or ``absent`` when the plugin has no such option."""
    try:
        return plugin.get_option(name)
    except KeyError:
        return absent


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Hosts and groups from what Azure VMs' IMDS said."""

    NAME = "azimds.imds.azure_imds"

    def verify_file(self, path):
        """Return True for a readable file whose name ends in azure_imds.yml or .yaml; never raise."""
        try:
            return str(path).endswith(CONFIG_SUFFIXES) and super().verify_file(path)
        except Exception:  # pylint: disable=broad-exception-caught
            return False  # a path this plugin cannot even look at is not its file

    def parse(self, inventory, loader, path, cache=True):
        """Read the config file at ``path`` and add its hosts and groups to ``inventory``."""
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        var = self.get_option("hostvars_prefix") + FACTS_VAR
        try:
            preferences = hosts.parse_preferences(self._hostnames())
            entries, problems, notes = self._entries(path, cache)
            kept = self._filtered(entries, var, problems)
            named, naming_problems = hosts.assign_names(
                kept, preferences, self.get_option("duplicate_hostnames"))
        except (hosts.HostnameError, sources.SourceError) as exc:
            raise AnsibleParserError("%s: %s" % (path, exc)) from None
        for source, message in notes:
            self.display.v("azure_imds: left out %s: %s" % (source, message))
        for source, message in problems + naming_problems:
            self.display.warning("azure_imds: %s: %s" % (source, message))
        self._populate(named, var)
        self.display.v("azure_imds: %d hosts from %s" % (len(named), self.get_option("source")))

    # -- reading -------------------------------------------------------------------------

    def _hostnames(self):
        chosen = self.get_option("hostnames")
        if chosen:
            return chosen
        return ["source_name"] if self.get_option("source") == "fact_cache" else list(DEFAULT_HOSTNAMES)

    def _entries(self, path, cache):
        """Return (entries, problems, notes), from the inventory cache when allowed and present."""
        use_cache = self.get_option("cache")
        key = self.get_cache_key(path)
        if use_cache and cache:
            cached = self._cached_entries(key)
            if cached is not None:
                self.display.v("azure_imds: %d raw entries from the inventory cache" % len(cached))
                return cached, [], []
        entries, problems, notes = self._read_source(path)
        if use_cache:
            self._cache[key] = entries
        return entries, problems, notes

    def _cached_entries(self, key):
        """Return the entries cached under ``key``, or None on a miss or an unusable entry."""
        try:
            cached = self._cache[key]
        except KeyError:
            return None
        except AnsibleError as exc:
            self.display.warning("azure_imds: the inventory cache could not be read (%s); reading "
                                 "the source instead" % sources.one_line(exc))
            return None
        if not isinstance(cached, list) or not all(isinstance(entry, dict) and "source" in entry
                                                   for entry in cached):
            self.display.warning("azure_imds: the inventory cache entry is not this plugin's; "
                                 "reading the source instead")
            return None
        return cached

    def _read_source(self, path):
        """Return (entries, problems, notes) from the configured source."""
        source = self.get_option("source")
        base_dir = os.path.dirname(os.path.abspath(path))
        if source == "fact_cache":
            lister, reader = self._fact_cache_plugins()
            try:
                return sources.read_fact_cache(lister, reader)
            except AnsibleError as exc:
                raise sources.SourceError("fact_cache: cannot list the fact cache (%s)"
                                          % sources.one_line(exc)) from None
        if source in ("endpoints", "local") and not self.get_option("timeout") > 0:
            raise sources.SourceError("timeout must be more than 0 seconds, not %s" % self.get_option("timeout"))
        if source == "documents":
            if not self.get_option("documents"):
                raise sources.SourceError("documents: name the document files, folders or globs to read")
            entries, problems = sources.read_documents(self.get_option("documents"), base_dir)
        elif source == "endpoints":
            if not self.get_option("endpoints"):
                raise sources.SourceError("endpoints: give IMDS base URLs or a fleet manifest")
            if self.get_option("max_concurrency") < 1:
                raise sources.SourceError("max_concurrency must be 1 or more")
            targets = sources.endpoint_targets(self.get_option("endpoints"), base_dir)
            entries, problems = sources.fetch_endpoints(
                targets, self.get_option("timeout"), self.get_option("max_concurrency"))
        else:
            entries, problems = sources.fetch_local(self.get_option("endpoint"), self.get_option("timeout"))
        return entries, problems, []

    def _fact_cache_plugins(self):
        """Return (lister, reader): the fact cache with expiry off, and as configured.

        Raises:
            SourceError: the fact cache is Ansible's memory cache, or cannot be opened.
        """
        name = self.get_option("fact_cache_plugin") or C.CACHE_PLUGIN
        if name in ("memory", "ansible.builtin.memory", "ansible.legacy.memory"):
            raise sources.SourceError(
                "fact_cache: the fact cache is Ansible's 'memory' cache, which keeps nothing "
                "between runs; set fact_caching (e.g. jsonfile with fact_caching_connection) in "
                "ansible.cfg or fact_cache_plugin here, and gather with azimds.imds.metadata_facts")
        options = {}
        names = (("fact_cache_connection", "_uri"), ("fact_cache_prefix", "_prefix"),
                 ("fact_cache_timeout", "_timeout"))
        for option, cache_option in names:
            if self.get_option(option) is not None:
                options[cache_option] = self.get_option(option)
        try:
            reader = cache_loader.get(name, **options)
            listing = dict(options, _timeout=0)
            if "_prefix" not in listing and plugin_option(reader, "_prefix", "") is None:
                listing["_prefix"] = ""  # the file caches cannot list keys without a prefix
            lister = cache_loader.get(name, **listing)
        except AnsibleError as exc:
            raise sources.SourceError("fact_cache: cannot open the fact cache %r (%s)"
                                      % (name, sources.one_line(exc))) from None
        return lister, reader

    # -- building --------------------------------------------------------------------------

    def _filtered(self, entries, var, problems):
        """Return [(entry, facts)] for the entries whose facts pass include and exclude."""
        include, exclude = self.get_option("include"), self.get_option("exclude")
        kept = []
        for entry in entries:
            facts, problem = hosts.facts_or_problem(entry)
            if problem is not None:
                problems.append((entry["source"], problem))
                continue
            variables = {var: facts}
            if include and not any(self._holds(cond, variables, entry) for cond in include):
                continue
            if any(self._holds(cond, variables, entry) for cond in exclude):
                continue
            kept.append((entry, facts))
        return kept

    def _holds(self, condition, variables, entry):
        """Return whether ``condition`` is true for a host; an error counts as false unless strict."""
        self.templar.available_variables = variables
        try:
            evaluate = getattr(self.templar, "evaluate_conditional", None)
            if evaluate is not None:
                return bool(evaluate(condition))
            return boolean(self._compose(condition, variables), strict=False)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if self.get_option("strict"):
                raise AnsibleParserError("condition %r failed for %s: %s"
                                         % (condition, entry["source"], sources.one_line(exc))) from None
            return False

    def _keyed_groups(self, var):
        """Return the keyed_groups option; an entry with a default group's prefix and no key gets
        that group's key, so a default group's options can be changed without repeating it."""
        keyed = []
        for entry in self.get_option("keyed_groups") or ():
            if isinstance(entry, dict) and entry.get("prefix") in groups_of.DEFAULT_PREFIXES \
                    and not entry.get("key"):
                entry = dict(entry, key=trusted(groups_of.default_key_expression(entry["prefix"], var)))
            keyed.append(entry)
        return keyed

    def _populate(self, named, var):
        """Add each named host, its variables and its groups to the inventory."""
        strict = self.get_option("strict")
        compose, groups = self.get_option("compose"), self.get_option("groups")
        keyed = self._keyed_groups(var)
        default_groups = self.get_option("default_groups")
        replaced = {entry.get("prefix") for entry in keyed if isinstance(entry, dict)}
        # host_address's choices are hostnames keywords (none is not one: no address is set).
        address_path = hosts.HOSTNAME_KEYWORDS.get(self.get_option("host_address"))
        safe_names = {}
        self.inventory.add_group(ALL_GROUP)
        for name, (entry, facts) in named:
            self.inventory.add_host(name, group=ALL_GROUP)
            self.inventory.set_variable(name, var, untrusted(facts))
            if entry.get("connection") == "local":
                self.inventory.set_variable(name, "ansible_connection", "local")
            elif address_path:
                address = hosts.facts_value(facts, address_path)
                if address:
                    self.inventory.set_variable(name, "ansible_host", untrusted(address))
            if default_groups:
                for raw in groups_of.default_group_names(facts, replaced):
                    group = safe_names.get(raw)
                    if group is None:
                        group = safe_names[raw] = self.inventory.add_group(self._sanitize_group_name(raw))
                    self.inventory.add_child(group, name)
            if compose or groups or keyed:
                host = self.inventory.get_host(name)
                self._set_composite_vars(compose, host.get_vars(), name, strict=strict)
                variables = host.get_vars()
                self._add_host_to_composed_groups(groups, variables, name, strict=strict, fetch_hostvars=False)
                self._add_host_to_keyed_groups(keyed, variables, name, strict=strict, fetch_hostvars=False)
