"""azimds as a Salt extension: the root Salt's loader is pointed at.

``pyproject.toml`` declares the ``salt.loader`` entry point ``azimds = "azimds.saltext"``. Salt's
loader (3006 to 3008) imports this package and, for each kind of module it loads, looks for a
folder of that name in it: ``grains/`` holds the ``azure_imds`` grains module. So once azimds is
installed next to Salt (``pip install azimds`` or ``salt-pip install azimds``) every minion has
the ``azure`` grain, without copying any file. The same module file, copied into a file root's
``_grains/`` folder, works the other way (``saltutil.sync_grains``); the repository keeps it at
``salt_grains/azure_imds.py``, a link to ``grains/azure_imds.py`` here.

Salt imports this package for every loader it builds, in every Salt process: keep it empty.
"""
