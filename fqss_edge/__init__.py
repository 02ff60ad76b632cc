"""fqss-edge: fully quantized audio source separation for edge CPUs."""

__version__ = "0.1.0"
