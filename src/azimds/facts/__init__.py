"""Document to facts: the normalized model, tags, and one shape per host tool.

model (``normalize(document, api_version)`` -> ``Instance``), tags (tagsList first, the legacy
string as fallback), shapes (Ansible facts, Salt grains, cloud-init metadata).

Standard library only, Python 3.8+: this package is shipped to managed hosts.
"""
