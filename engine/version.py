"""The package's version, in a leaf module so that the small helpers can name it too."""

__version__ = "0.1.0"
