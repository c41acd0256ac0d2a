"""The methods a transfer run can be, one entry each: the single table the commands, the grids, the report and run names read.

Torch-free and CLI-free on purpose: the report and the grid expansion read it without loading a
model, and the CLI looks its agent builders up by `Method.agent`. Adding a method is one `Method`
in `METHODS` (docs/architecture.md, "Adding a method").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from vid2act_core.config_schema import TransferConfig

Source = Literal["teachers", "init-teacher", "video-model", "none"]
"""What a run of the method starts from: distilled teachers (`--teachers`), one teacher's weights
(`--init-from TEACHER`), an action-free video model (`--init-from MODEL`), or nothing."""
PaperGrid = Literal["main", "ablation", ""]
"""Where the paper's grids run the method: on every target (Fig. 3 and 6), on the ablation targets (Fig. 4), or not at all."""
TRANSFER_AGENT = "transfer"
"""`Method.agent` of the methods the Vid2Act student (or DreamerV2) covers through its config switches."""


@dataclass(frozen=True)
class Method:
    """One method: its name in run directories and reports, how to select it, what it needs, how it is drawn."""

    name: str
    """Label in run directories (`<target>-<name>-<seed>`), reports and `--methods`."""
    title: str
    """Legend label of the report."""
    colour: str
    """Matplotlib colour of the report."""
    legend_rank: int
    """Position in the report's legend and tables (the paper's figure order, not the table's)."""
    switches: Mapping[str, bool] = field(default_factory=dict)
    """`TransferConfig` fields the method sets; a transfer run whose config has them all is labelled with it."""
    flags: tuple[str, ...] = ()
    """`vid2act transfer` options selecting it, besides the ones its `source` adds (`--teachers`, `--init-from`)."""
    source: Source = "teachers"
    agent: str = TRANSFER_AGENT
    """Agent builder: `TRANSFER_AGENT`, or a baseline's builder in `vid2act_cli.compose.baselines` (its `--method` value)."""
    paper: PaperGrid = ""

    @property
    def needs_teachers(self) -> bool:
        """A grid must be given `--teachers` (distilled, or the first one's weights for `init-teacher`)."""
        return self.source in ("teachers", "init-teacher")

    @property
    def needs_video_model(self) -> bool:
        """A grid must be given `--video-model` (the action-free model the runs fine-tune)."""
        return self.source == "video-model"


METHODS: tuple[Method, ...] = (
    Method("vid2act", "Vid2Act", "tab:red", 0, paper="main"),
    Method("dreamer", "DreamerV2", "tab:blue", 1, {"distill": False}, ("--no-distill",), source="none", paper="main"),
    Method("uniform", "Vid2Act w/o task weights", "tab:orange", 3, {"uniform_weights": True}, ("--uniform-weights",),
           paper="ablation"),
    Method("noguide", "Vid2Act w/o action guidance", "tab:green", 4, {"guidance": False}, ("--no-guidance",),
           paper="ablation"),
    Method("init", "DreamerV2 (pretrained init)", "tab:purple", 2, {"distill": False}, source="init-teacher", paper="main"),
    Method("apv", "APV", "tab:brown", 5, {"distill": False}, ("--method", "apv"), source="video-model", agent="apv",
           paper="main"),
    Method("isodream", "Iso-Dream", "tab:cyan", 6, {"distill": False}, ("--method", "isodream"), source="none",
           agent="isodream", paper="main"),
)
"""Every method, in the order `--methods` lists them; the ablations use the paper's Fig. 4 colours.

vid2act is the full method; dreamer DreamerV2 from scratch; uniform and noguide the ablations of
the task weights and the action guidance; init DreamerV2 initialised from one teacher's weights;
apv and isodream the baselines of `vid2act_core.baselines`."""
DEFAULT_METHOD = "vid2act"
"""The method of a transfer run that sets no switch."""


def all_methods() -> tuple[Method, ...]:
    """`METHODS`, read when called (so a test's patched table is seen by every reader)."""
    return METHODS


def find_method(name: str) -> Method | None:
    """The method called `name`, or None."""
    return next((method for method in METHODS if method.name == name), None)


def method_names() -> tuple[str, ...]:
    """The names of `METHODS`, in table order."""
    return tuple(method.name for method in METHODS)


def get_method(name: str) -> Method:
    """The method called `name`; a ValueError lists the others."""
    method = find_method(name)
    if method is None:
        raise ValueError(f"--method {name!r}: choose from {', '.join(method_names())}")
    return method


def method_by_flag(flag: str) -> Method:
    """The method a dedicated `vid2act transfer` flag (`--no-distill`, ...) selects."""
    for method in METHODS:
        if method.flags == (flag,):
            return method
    raise ValueError(f"{flag}: no method is selected by it")


def apply_switches(transfer: TransferConfig, method: Method) -> None:
    """Set the `TransferConfig` fields `method` declares."""
    for key, value in method.switches.items():
        setattr(transfer, key, value)


def label_from_switches(transfer: TransferConfig) -> str:
    """The switch-selected method whose switches `transfer` all has, the one with most switches winning (the table's
    first among equals: dreamer before uniform before noguide); else `DEFAULT_METHOD`.

    Only methods of the transfer agent that start from teachers or nothing count: `init` is told by
    `--init-from` and the baselines by `--method`, not by the config.
    """
    matching = [method for method in METHODS
                if method.agent == TRANSFER_AGENT and method.source in ("teachers", "none") and method.switches
                and all(getattr(transfer, key) == value for key, value in method.switches.items())]
    if not matching:
        return DEFAULT_METHOD
    return max(matching, key=lambda method: len(method.switches)).name


def paper_methods(grid: PaperGrid) -> tuple[str, ...]:
    """The methods the paper's grids run on every target (`main`) or on the ablation targets (`ablation`), in table order."""
    return tuple(method.name for method in METHODS if method.paper == grid)


def init_method() -> Method:
    """The method a transfer run given `--init-from TEACHER` (and no baseline) is."""
    return next(method for method in METHODS if method.source == "init-teacher")
