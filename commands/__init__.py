"""The command line's commands, one module per area; ``techcal.cli`` puts them together."""
