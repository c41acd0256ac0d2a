"""vid2act-envs."""

__version__ = "0.1.0"
