"""Small core subcommands: ``schema`` and ``exec``."""
