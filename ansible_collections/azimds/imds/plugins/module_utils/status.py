# -*- coding: utf-8 -*-
# Copyright: azimds contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The keys every ``azure_imds`` fact carries: whether IMDS answered, where, and which version.

Written by hand (not generated from src/azimds). ``azimds.imds.metadata_facts`` sets them and
the azure_imds inventory writes them for documents it reads itself, both from here. It
needs no import, so the module's off-Azure path stays as light as it was.
"""

from __future__ import annotations


def status_facts(status, message, endpoint, api_version):
    """Return the keys every azure_imds fact carries, whether IMDS answered or not."""
    return {
        "available": status == "ok",
        "status": status,
        "message": message,
        "endpoint": endpoint,
        "api_version": api_version,
    }
