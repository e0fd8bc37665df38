"""Built-in workflows, each a small program run as ``python -m attune.workflows.<name> [PATH]``."""
