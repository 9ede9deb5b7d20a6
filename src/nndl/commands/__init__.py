"""Subcommands of the ``nndl`` command line; see ``nndl.cli``."""
