"""Device profiles for ``fqss-edge bench --device NAME`` (package data of ``fqss_edge.configs.devices``)."""
