"""The functions and requests behind `vid2act_cli.api`, by kind of work; import them from `vid2act_cli.api`."""
