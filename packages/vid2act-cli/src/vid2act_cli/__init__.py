"""vid2act-cli."""

__version__ = "0.2.0"
