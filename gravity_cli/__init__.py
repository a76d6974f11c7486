"""The ``gravity`` command: run Gravity locally (``gravity dev``), serve nodes and operate installations."""

from gravity_sdk._version import __version__

__all__ = ["__version__"]
