"""The `hdrtv` command line and the REST job service (built on `hdrtv.worker`)."""
