"""Errors that the user caused and can fix: bad input files, bad output paths, bad options.

An `InputError` carries one line that names the problem ("input.mp4: no video stream (audio
only)"); the CLI prints it as is and exits non-zero, the service turns it into a 4xx or a failed
job. Anything else is our bug and keeps its traceback.
"""


class InputError(ValueError):
    """A problem with what the user gave us, described in one line; `code` is the error code a
    job that fails with it reports."""

    code = "invalid_input"


class OutputExists(InputError):
    """An object is at the output and the job may not replace it (no `overwrite`)."""

    code = "output_exists"
