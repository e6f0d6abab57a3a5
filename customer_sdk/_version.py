"""The package's version, in one place: the build, ``__version__`` and the User-Agent read it."""

__version__ = "0.1.0.dev0"
