"""`vid2act report`: PNG figures and one self-contained HTML page from run (or experiment) directories.

- `runs`: read run directories, expand experiment directories, group by (task, method), aggregate seeds;
- `plots`: the figures; `page`: the final-numbers table and the HTML page; `build`: `build_report`.
"""

from vid2act_cli.report.build import Report, build_report
from vid2act_cli.report.page import CAPTIONS, final_numbers
from vid2act_cli.report.runs import NotARunError, RunData, aggregate, expand_run_paths, group_runs, load_run

__all__ = ["CAPTIONS", "NotARunError", "Report", "RunData", "aggregate", "build_report", "expand_run_paths", "final_numbers",
           "group_runs", "load_run"]
