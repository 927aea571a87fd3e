"""What a job's `options` mean: the user's choices over the worker's settings."""

from __future__ import annotations

from ..control.errors import InputError
from ..control.job_record import JOB_OPTIONS, Job
from ..control.settings import Settings
from ..pipeline import ConvertOptions


def convert_options(job: Job, settings: Settings) -> ConvertOptions:
    """The job's model and options over the settings; device, precision, batch size, compile and
    the encoder are the worker's."""
    unknown = set(job.options) - set(JOB_OPTIONS)
    if unknown:
        raise InputError(f"unknown options: {', '.join(sorted(unknown))}")
    chosen = {name: job.options.get(name, getattr(settings, name)) for name in JOB_OPTIONS if name != "force"}
    return ConvertOptions(
        model=job.model,
        device=settings.device,
        precision=settings.precision,
        batch_size=settings.batch_size,
        compile=settings.compile,
        encoder=settings.encoder,
        force=bool(job.options.get("force", False)),
        **chosen,
    )
