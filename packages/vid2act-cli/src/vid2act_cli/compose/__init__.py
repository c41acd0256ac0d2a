"""The composition layer: what every `vid2act` command does, as plain functions.

A notebook, a cluster job or a test calls these directly; the Typer commands in
`vid2act_cli.commands` only parse options, call one of them and print. Nothing here imports
`typer` or `rich`: messages and progress go through a `Reporter` (see `reporter.py`), which the
commands implement with rich and library callers get as plain stderr text.
"""
