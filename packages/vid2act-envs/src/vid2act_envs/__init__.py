"""vid2act-envs."""

__version__ = "0.2.0"
