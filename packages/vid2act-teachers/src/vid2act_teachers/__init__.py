"""vid2act-teachers."""

__version__ = "0.2.0"
