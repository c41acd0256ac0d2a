"""Example vid2act plugin: the `toy` domain (a point mass reaching a target in MuJoCo)."""

__version__ = "0.2.0"
