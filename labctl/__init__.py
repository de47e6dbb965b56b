"""labctl: a Raspberry Pi Kubernetes lab, built and explained."""

__version__ = "0.1.0"
