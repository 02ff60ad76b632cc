"""Shipped YAML run configs, installed as package data of ``fqss_edge.configs`` (see ``fqss_edge.config.shipped_config``)."""
