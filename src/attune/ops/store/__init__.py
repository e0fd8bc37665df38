"""The run store: SQLite (WAL), numbered migrations, runs and their logs, upkeep jobs.

Imports nothing from ``attune.ops`` but ``errors``; a second backend lives beside this one.
"""
