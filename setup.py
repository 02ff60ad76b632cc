"""Package discovery with renaming (pyproject.toml alone cannot rename discovered packages).

The source folders export/, runtimes/ and configs/ install inside fqss_edge as fqss_edge.export,
fqss_edge.runtimes and fqss_edge.configs, never as top-level packages. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

MAPPED = {"export": "fqss_edge.export", "runtimes": "fqss_edge.runtimes", "configs": "fqss_edge.configs"}

packages = find_packages(include=["fqss_edge", "fqss_edge.*"])
for folder, name in MAPPED.items():
    packages += [name + sub[len(folder):] for sub in find_packages(include=[folder, folder + ".*"])]

setup(packages=packages, package_dir={name: folder for folder, name in MAPPED.items()})
