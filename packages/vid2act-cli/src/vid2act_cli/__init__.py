"""vid2act-cli: the `vid2act` commands and, in `vid2act_cli.api`, the same operations for Python callers."""

# api itself imports only the standard library at module level, so `vid2act --help` pays nothing for this.
from vid2act_cli.api import TrainRequest, TrainResult, train

__version__ = "0.2.0"

__all__ = ["TrainRequest", "TrainResult", "train", "__version__"]
