"""Gravity's server side: the kernel, the gateway, the built-in services and the dev stack."""

from gravity_sdk._version import __version__

__all__ = ["__version__"]
