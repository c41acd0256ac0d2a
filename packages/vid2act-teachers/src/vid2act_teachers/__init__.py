"""vid2act-teachers."""

__version__ = "0.1.0"
