#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: azimds contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Ansible module azimds.imds.metadata_facts: the Azure IMDS instance document as facts."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: metadata_facts
short_description: Gather facts from the Azure Instance Metadata Service (IMDS)
version_added: 0.1.0
description:
  - Reads the instance document of the Azure Instance Metadata Service (IMDS) with one request
    and sets it, normalized, under C(ansible_facts['azure_imds']) - zone, fault and update
    domain, location, size, tags as a dictionary, network addresses, image, priority and more.
    No credentials, no SDK and no control-plane call are needed.
  - Whether to talk to IMDS is decided before any network traffic - off Azure nothing is sent.
    The default O(on_unavailable=empty) never fails a play off Azure, so the module can be added
    to every play's fact gathering with
    C(ANSIBLE_FACTS_MODULES=smart,azimds.imds.metadata_facts).
  - The request bypasses proxies and follows no redirects. Retries (for the statuses IMDS
    documents as transient), api-version negotiation and fallback all fit within O(timeout).
  - The module needs Python 3.8 or newer on the managed host and nothing but its standard
    library - the azimds core ships inside the collection.
author:
  - azimds contributors (!UNKNOWN)
options:
  endpoint:
    description:
      - Base URL of the IMDS to ask, for example an emulator's C(http://127.0.0.1:8169).
      - When not set, the environment variable E(AZIMDS_ENDPOINT) is used; when that is not set
        either, C(http://169.254.169.254) is used if the host is an Azure VM (its DMI chassis asset
        tag says so), and otherwise the host is not on Azure and nothing is sent.
      - E(AZIMDS_DISABLE=1) in the environment turns every request off, even with O(endpoint).
    type: str
  api_version:
    description:
      - Pin this IMDS api-version (C(YYYY-MM-DD)) instead of negotiating one.
      - When not set, the newest version the module knows is asked for, and on a C(400) naming
        the versions IMDS offers, the newest version both know is used instead. The facts say
        which version answered (RV(ansible_facts.azure_imds.api_version)).
    type: str
  timeout:
    description:
      - Seconds the whole fetch may take - every retry and the api-version negotiation
        included. When IMDS has not answered usefully by then, O(on_unavailable) decides.
      - The default rides out an IMDS update, during which IMDS answers C(410) for up to 70
        seconds. Lower it for plays that must not wait that long on a VM whose IMDS is broken.
    type: float
    default: 90
  sections:
    description:
      - Return only these parts of the facts, named as the keys of RV(ansible_facts.azure_imds).
        The fact-level keys C(available), C(status), C(message), C(endpoint) and
        C(api_version) are always returned.
      - The document is still fetched whole, with one request - IMDS serves it in one piece.
      - When not set, every part is returned.
    type: list
    elements: str
    choices:
      - vm_id
      - name
      - resource_id
      - subscription_id
      - resource_group
      - az_environment
      - vm_size
      - os_type
      - priority
      - eviction_policy
      - license_type
      - placement
      - image
      - plan
      - os_profile
      - security
      - storage
      - network
      - public_keys
      - tags
      - tag_warnings
      - field_warnings
  include_user_data:
    description:
      - Also return the VM's userData and customData, decoded from base64, as
        RV(ansible_facts.azure_imds.user_data) and RV(ansible_facts.azure_imds.custom_data).
      - Off by default because facts end up in places secrets should not go - the output of
        C(-v), callback plugins, and fact caches on the controller (C(jsonfile), Redis, ...),
        where every later play and inventory can read them. Turn it on only for a task that
        needs them, with C(no_log) on the tasks that print them.
    type: bool
    default: false
  on_unavailable:
    description:
      - What to do when the host is not on Azure (nothing is sent) or when IMDS did not answer
        usefully within O(timeout).
      - V(empty) sets RV(ansible_facts.azure_imds) to a fact with RV(ansible_facts.azure_imds.available)
        C(false) and the reason, and succeeds. Off Azure this is silent; when IMDS did not answer
        on an Azure VM, the module also warns.
      - V(skip) returns a skipped result without facts.
      - V(fail) fails the task with the reason and what to do.
      - Any other error (a pinned api-version IMDS does not offer, a malformed answer, a
        redirect, a malformed O(endpoint)) always fails the task.
    type: str
    choices: [empty, skip, fail]
    default: empty
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.facts
attributes:
  check_mode:
    support: full
    details: The module only reads; it does the same in check mode.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
notes:
  - One HTTP request per run for the instance document (two when IMDS refuses the api-version
    asked for and names the ones it offers). Per-key walks, as with C(amazon.aws.ec2_metadata_facts),
    need one request per value.
  - Tags come from C(tagsList) when IMDS serves it (api-version 2019-06-04 and newer), and from the
    ambiguous C(name:value;...) string only as a fallback; anything ambiguous in that string is
    reported as a module warning and in RV(ansible_facts.azure_imds.tag_warnings). A field that
    cannot be read (userData that is not base64) is left C(null), with a module warning and a line
    in RV(ansible_facts.azure_imds.field_warnings); the other facts are still set.
  - Read the facts as C(ansible_facts['azure_imds']); ansible-core 2.20 deprecates facts injected as
    top-level variables.
seealso:
  - name: Azure Instance Metadata Service
    description: What IMDS serves and how.
    link: https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service
"""

EXAMPLES = r"""
- name: Gather Azure IMDS facts
  azimds.imds.metadata_facts:

- name: Show where the VM runs
  ansible.builtin.debug:
    msg: >-
      zone {{ ansible_facts['azure_imds']['placement']['zone'] }},
      fault domain {{ ansible_facts['azure_imds']['placement']['fault_domain'] }},
      update domain {{ ansible_facts['azure_imds']['placement']['update_domain'] }}
  when: ansible_facts['azure_imds']['available']

- name: Only placement and tags, giving up after 5 seconds
  azimds.imds.metadata_facts:
    sections: [placement, tags]
    timeout: 5

- name: Fail when the host is not an Azure VM or IMDS does not answer
  azimds.imds.metadata_facts:
    on_unavailable: fail

- name: Read userData (decoded); keep it out of logs
  azimds.imds.metadata_facts:
    include_user_data: true
  no_log: true

- name: Ask an IMDS emulator, pinning an api-version
  azimds.imds.metadata_facts:
    endpoint: http://127.0.0.1:8169
    api_version: "2021-02-01"

# In ansible.cfg ([defaults] facts_modules = smart, azimds.imds.metadata_facts) or with
# ANSIBLE_FACTS_MODULES=smart,azimds.imds.metadata_facts, every play's fact gathering
# adds ansible_facts['azure_imds'], and off Azure it only says so.
"""

RETURN = r"""
azure_imds_status:
  description:
    - Why there are no facts - C(not_on_azure) or C(unavailable) - when O(on_unavailable) is
      V(skip) or V(fail) and the task was skipped or failed for it.
  returned: when skipped or failed by O(on_unavailable)
  type: str
  sample: not_on_azure
ansible_facts:
  description: The facts.
  returned: unless skipped
  type: dict
  contains:
    azure_imds:
      description:
        - What IMDS says about this VM, normalized - one meaning for absent (C(null)), numbers
          as integers, booleans as booleans, tags as a dictionary.
        - When IMDS is not available and O(on_unavailable=empty), only C(available), C(status),
          C(message), C(endpoint) and C(api_version) are set.
      returned: always
      type: dict
      contains:
        available:
          description: Whether IMDS answered; the other facts are set only when it did.
          returned: always
          type: bool
          sample: true
        status:
          description:
            - C(ok) when IMDS answered, C(not_on_azure) when the host is not an Azure VM (nothing
              was sent), C(unavailable) when IMDS did not answer usefully within O(timeout).
          returned: always
          type: str
          sample: ok
        message:
          description: Why IMDS is not available and what to do; C(null) when it answered.
          returned: always
          type: str
          sample: null
        endpoint:
          description: The base URL of the IMDS that answered (or was asked); C(null) off Azure.
          returned: always
          type: str
          sample: http://169.254.169.254
        api_version:
          description: The api-version of the document that answered; C(null) when none did.
          returned: always
          type: str
          sample: "2025-04-07"
        vm_id:
          description: The VM's unique id (C(vmId)).
          returned: when available
          type: str
          sample: 02aab8a4-74ef-476e-8182-f6d2ba4166a6
        name:
          description: The VM's name.
          returned: when available
          type: str
          sample: jubilee
        resource_id:
          description: The VM's Azure resource id.
          returned: when available
          type: str
        subscription_id:
          description: The subscription the VM belongs to.
          returned: when available
          type: str
        resource_group:
          description: The VM's resource group.
          returned: when available
          type: str
          sample: myrg
        az_environment:
          description: The Azure cloud, for example C(AzurePublicCloud).
          returned: when available
          type: str
        vm_size:
          description: The VM size.
          returned: when available
          type: str
          sample: Standard_D2s_v5
        os_type:
          description: C(Linux) or C(Windows).
          returned: when available
          type: str
        priority:
          description: C(Regular), C(Low) or C(Spot).
          returned: when available
          type: str
        eviction_policy:
          description: What happens to a Spot VM when it is evicted.
          returned: when available
          type: str
        license_type:
          description: The Azure Hybrid Benefit license type.
          returned: when available
          type: str
        placement:
          description: Where the VM runs.
          returned: when available
          type: dict
          contains:
            location:
              description: The region.
              type: str
              returned: when available
              sample: westus
            zone:
              description: The availability zone, a string such as C("1"); C(null) when zone-less.
              type: str
              returned: when available
              sample: "1"
            physical_zone:
              description: The physical zone behind the logical one.
              type: str
              returned: when available
            fault_domain:
              description: The platform fault domain.
              type: int
              returned: when available
              sample: 1
            update_domain:
              description: The platform update domain.
              type: int
              returned: when available
              sample: 1
            sub_fault_domain:
              description: The platform sub-fault domain.
              type: int
              returned: when available
            placement_group_id:
              description: The scale set placement group.
              type: str
              returned: when available
            scale_set_name:
              description: The virtual machine scale set the VM belongs to.
              type: str
              returned: when available
            scale_set_id:
              description: The resource id of that scale set.
              type: str
              returned: when available
            host_id:
              description: The dedicated host.
              type: str
              returned: when available
            host_group_id:
              description: The dedicated host group.
              type: str
              returned: when available
            extended_location:
              description: The extended location (edge zone), with C(type) and C(name).
              type: dict
              returned: when available
        image:
          description:
            - The image reference - C(publisher), C(offer), C(sku), C(version), C(exact_version), C(id),
              C(shared_gallery_image_id), C(community_gallery_image_id).
          returned: when available
          type: dict
        plan:
          description: The marketplace plan - C(name), C(product), C(publisher).
          returned: when available
          type: dict
        os_profile:
          description: C(admin_username), C(computer_name), C(password_authentication_disabled).
          returned: when available
          type: dict
        security:
          description: C(security_type), C(secure_boot_enabled), C(virtual_tpm_enabled), C(encryption_at_host).
          returned: when available
          type: dict
        storage:
          description: C(os_disk), C(data_disks) and C(resource_disk_size_mb).
          returned: when available
          type: dict
        network:
          description:
            - C(interfaces) (each with C(mac), C(private_ipv4), C(public_ipv4), C(ipv4_subnets),
              C(private_ipv6), C(public_ipv6), C(ipv6_subnets)), C(primary_private_ipv4) and
              C(primary_public_ipv4).
          returned: when available
          type: dict
          sample:
            primary_private_ipv4: 10.144.133.132
            primary_public_ipv4: null
        public_keys:
          description: SSH public keys Azure placed on the VM, each with C(key_data) and C(path).
          returned: when available
          type: list
          elements: dict
        tags:
          description: The VM's tags, name to value.
          returned: when available
          type: dict
          sample:
            Environment: Prod
            Role: web
        tag_warnings:
          description: What was ambiguous in the legacy tags string (also module warnings).
          returned: when available
          type: list
          elements: str
        field_warnings:
          description:
            - Fields that could not be read and were left C(null) (customData or userData that is
              not base64), never with their values; every other fact is still set. Also module
              warnings.
          returned: when available
          type: list
          elements: str
        user_data:
          description:
            - userData, C(text) (the decoded text, C(null) when not UTF-8) and C(base64).
            - C(null) when the VM has none.
          returned: when available and O(include_user_data=true)
          type: dict
        custom_data:
          description: customData, in the same form as RV(ansible_facts.azure_imds.user_data).
          returned: when available and O(include_user_data=true)
          type: dict
"""

from ansible.module_utils.basic import AnsibleModule

# Detection only, at first: off Azure the module stops before the errors, the client and the
# model are even imported (AnsiballZ compiles every imported file afresh on each run).
from ansible_collections.azimds.imds.plugins.module_utils.imds.detect import (
    detect,
    not_on_azure_message,
)
from ansible_collections.azimds.imds.plugins.module_utils.status import status_facts

SECTIONS = (
    "vm_id",
    "name",
    "resource_id",
    "subscription_id",
    "resource_group",
    "az_environment",
    "vm_size",
    "os_type",
    "priority",
    "eviction_policy",
    "license_type",
    "placement",
    "image",
    "plan",
    "os_profile",
    "security",
    "storage",
    "network",
    "public_keys",
    "tags",
    "tag_warnings",
    "field_warnings",
)

ARGUMENT_SPEC = {
    "endpoint": {"type": "str"},
    "api_version": {"type": "str"},
    "timeout": {"type": "float", "default": 90.0},
    "sections": {"type": "list", "elements": "str", "choices": list(SECTIONS)},
    "include_user_data": {"type": "bool", "default": False},
    "on_unavailable": {"type": "str", "choices": ["empty", "skip", "fail"], "default": "empty"},
}


def make_client(params):
    """Return the core's client for the module's options (detection again, still no traffic).

    Raises:
        ValueError: a malformed endpoint or api_version.
    """
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.azimds.imds.plugins.module_utils.imds.client import Client

    return Client(params["endpoint"], api_version=params["api_version"], deadline=params["timeout"])


def gather(client, params):
    """Return (facts, warnings for the user) from one fetch of the instance document.

    Raises:
        AzimdsError: from the core (Unavailable included).
    """
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.azimds.imds.plugins.module_utils.facts import model, shapes

    document = client.instance()
    instance = model.normalize(document.data, document.api_version)
    facts = shapes.ansible_facts(instance, include_secrets=params["include_user_data"])
    if params["sections"] is not None:
        kept = set(params["sections"]) | {"api_version", "custom_data", "user_data"}
        facts = {key: value for key, value in facts.items() if key in kept}
    facts.update(status_facts("ok", None, document.endpoint, document.api_version))
    return facts, list(instance.warnings)


def unavailable(module, status, message, endpoint):
    """Apply on_unavailable to a host that is not on Azure or whose IMDS did not answer."""
    choice = module.params["on_unavailable"]
    if choice == "fail":
        module.fail_json(msg=message, azure_imds_status=status)
    if choice == "skip":
        module.exit_json(skipped=True, msg=message, azure_imds_status=status)
    if status == "unavailable":
        module.warn(f"Azure IMDS did not answer: {message}")
    facts = status_facts(status, message, endpoint, None)
    module.exit_json(changed=False, ansible_facts={"azure_imds": facts})


def main():
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["timeout"] <= 0:
        module.fail_json(msg=f"timeout must be more than 0 seconds, not {module.params['timeout']:g}")
    try:
        detection = detect(module.params["endpoint"])
    except ValueError as exc:  # AZIMDS_DISABLE is neither true nor false
        module.fail_json(msg=str(exc))
    if not detection.on_azure:  # nothing is sent, nothing more is imported
        disabled = detection.source == "disabled"
        unavailable(module, "not_on_azure", not_on_azure_message(detection.reason, disabled), None)
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.azimds.imds.plugins.module_utils.imds.errors import AzimdsError, Unavailable

    try:
        client = make_client(module.params)
    except ValueError as exc:  # a malformed endpoint or api_version
        module.fail_json(msg=str(exc))
    try:
        facts, warnings = gather(client, module.params)
    except Unavailable as exc:
        unavailable(module, "unavailable", str(exc), client.endpoint.base_url)
    except AzimdsError as exc:  # the core's message says what happened and what to do
        module.fail_json(msg=str(exc))
    for warning in warnings:  # fields, then tags; never a secret's value
        module.warn(f"Azure IMDS: {warning}")
    module.exit_json(changed=False, ansible_facts={"azure_imds": facts})


if __name__ == "__main__":
    main()
