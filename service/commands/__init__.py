"""One module per group of `hdrtv` subcommands: each adds its parser and its handler."""
