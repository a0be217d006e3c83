"""cloud-init datasource ``AzureImds``: the Azure IMDS facts in cloud-init's own vocabulary.

cloud-init loads it with, in /etc/cloud/cloud.cfg.d/ (``python3 -m azimds.cloudinit`` prints it):

    datasource_pkg_list: [azimds.cloudinit]
    datasource_list: [AzureImds, None]

It runs in cloud-init's network stage. Before anything is sent, azimds's detection reads the
DMI chassis asset tag; off Azure the datasource is not chosen and nothing is sent. On Azure it
fetches the instance document once with azimds's client (retries, deadline, api-version
negotiation), normalizes it and hands cloud-init ``azimds.facts.shapes.cloud_init_metadata``:
``cloud-init query ds.meta_data.fault_domain`` or ``{{ ds.meta_data.tags.Environment }}`` in a
Jinja user-data template. userData (customData when IMDS still serves one) becomes user-data.
What the document holds that cannot be read (userData that is not base64, ambiguous tags) is
one warning line each, never the value, and every other fact is still used.

It does not report ready to the Azure platform: on an image that the Azure agent does not
provision, the built-in ``Azure`` datasource must stay in charge.

Works with cloud-init 22.4 onwards by looking for features, never at version numbers.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Tuple, Union

from cloudinit import sources, util

from ..facts import model, shapes
from ..imds import identity
from ..imds.client import Client
from ..imds.detect import detect
from ..imds.errors import AzimdsError
from .settings import Settings, read_settings

LOG = logging.getLogger(__name__)
DSNAME = "AzureImds"
PLATFORM = shapes.CLOUD_NAME


class DataSourceAzureImds(sources.DataSource):  # type: ignore[misc]  # cloud-init is untyped
    """Metadata and user-data from the Azure Instance Metadata Service, through azimds."""

    dsname = DSNAME
    _platform_type = PLATFORM
    # Set by _get_data; class-level defaults keep objects cloud-init pickled earlier loadable.
    _endpoint: Optional[str] = None
    _network: Optional[Dict[str, Any]] = None
    _config: Optional[Settings] = None

    def ds_detect(self) -> bool:
        """Return True when azimds's detection says to talk to IMDS (cloud-init 23.2+).

        Nothing is sent: detection reads the DMI chassis asset tag (or the configured endpoint,
        ``AZIMDS_ENDPOINT`` or ``AZIMDS_DISABLE``). Older cloud-init never calls this;
        ``_get_data`` decides the same way through the client.
        """
        try:
            detection = detect(self._settings().endpoint)
        except ValueError as exc:  # AZIMDS_DISABLE holds neither true nor false
            LOG.warning("%s: datasource not used: %s", DSNAME, exc)
            return False
        if not detection.on_azure:
            LOG.debug("%s: not on Azure: %s; nothing sent", DSNAME, detection.reason)
        return detection.on_azure

    def _get_data(self) -> bool:
        """Fetch and normalize the instance document; return True when cloud-init may use it."""
        settings = self._settings()
        try:
            client = Client(settings.endpoint, deadline=settings.timeout, trace=_trace)
        except ValueError as exc:  # a malformed endpoint, or AZIMDS_DISABLE neither true nor false
            LOG.warning("%s: datasource not used: %s", DSNAME, exc)
            return False
        if not client.on_azure:
            LOG.debug("%s: not on Azure: %s; nothing sent", DSNAME, client.detection.reason)
            return False
        try:
            document = client.instance()
            instance = model.normalize(document.data, document.api_version)
        except AzimdsError as exc:  # every message says what happened and what to do
            LOG.warning("%s: no metadata from IMDS, datasource not used: %s", DSNAME, exc)
            return False
        for warning in instance.warnings:  # e.g. userData that is not base64: left out
            LOG.warning("%s: %s", DSNAME, warning)
        metadata = shapes.cloud_init_metadata(instance)
        vm_id = metadata["instance-id"]
        if not vm_id:
            LOG.warning(
                "%s: the instance document at %s has no compute.vmId; datasource not used",
                DSNAME,
                document.endpoint,
            )
            return False
        metadata["instance-id"] = self._instance_id(vm_id)
        self.metadata = metadata
        self.userdata_raw = _user_data(instance)
        self._endpoint = document.endpoint
        self._network = (
            shapes.cloud_init_network_config(instance) if settings.apply_network_config else None
        )
        LOG.info(
            "%s: metadata from %s at api-version %s (zone %s, fault domain %s, user-data: %s)",
            DSNAME,
            document.endpoint,
            document.api_version,
            metadata["availability-zone"],
            metadata["fault-domain"],
            "yes" if self.userdata_raw is not None else "none",
        )
        return True

    @property
    def network_config(self) -> Optional[Dict[str, Any]]:
        """Return the network configuration from IMDS when ``apply_network_config`` is set."""
        return self._network

    def check_instance_id(self, sys_cfg: Any) -> bool:
        """Return True when the cached metadata still belongs to this VM (a local check).

        The DMI system UUID must be the instance-id, in either case and byte order.
        """
        return identity.same_machine(self.metadata.get("instance-id"), identity.system_uuid())

    def _get_subplatform(self) -> str:
        """Return where the metadata came from, e.g. ``metadata (http://169.254.169.254)``."""
        return f"metadata ({self._endpoint})" if self._endpoint else "unknown"

    def _settings(self) -> Settings:
        """Return the settings, read (and any problem reported) once per datasource."""
        if self._config is None:
            self._config = read_settings(self.ds_cfg, LOG.warning)
        return self._config

    def _instance_id(self, vm_id: str) -> str:
        """Return the instance-id: the vmId, or the previous instance-id if it is the same VM.

        A VM first booted with the built-in Azure datasource has its DMI system UUID, perhaps
        byte-swapped or upper case, as instance-id; keeping it avoids a false "new instance".
        """
        previous = _read_text(os.path.join(self.paths.get_cpath("data"), "instance-id")).strip()
        if previous and previous != vm_id and identity.same_machine(previous, vm_id):
            LOG.debug("%s: keeping instance-id %s, the same VM as vmId %s", DSNAME, previous, vm_id)
            return previous
        return vm_id


def _user_data(instance: model.Instance) -> Optional[bytes]:
    """Return customData when IMDS serves it, else userData, decoded; None when neither.

    As the built-in Azure datasource does: one user-data, customData first.
    """
    for secret in (instance.custom_data, instance.user_data):
        if secret is not None:
            return secret.to_bytes()
    return None


def _read_text(path: str) -> str:
    """Return a file's text ("" when it does not exist) with cloud-init's own reader.

    cloud-init 24.1 replaced ``util.load_file`` with ``load_text_file``; 25.1 has only the latter.
    """
    reader = getattr(util, "load_text_file", None)
    if reader is not None:
        return str(reader(path, quiet=True))
    return str(util.load_file(path, quiet=True))


def _trace(line: str) -> None:
    LOG.debug("%s: %s", DSNAME, line)


# cloud-init's loader: the datasource runs in the network stage (it needs IMDS).
datasources: List[Tuple[type, Tuple[str, ...]]] = [
    (DataSourceAzureImds, (sources.DEP_FILESYSTEM, sources.DEP_NETWORK)),
]


def get_datasource_list(depends: Union[List[str], Tuple[str, ...]]) -> List[type]:
    """Return the datasource classes matching cloud-init's stage ``depends``."""
    return list(sources.list_from_depends(depends, datasources))
