"""The names and queues of the job tasks: the API and the workers agree on these strings alone."""

START_JOB = "hdrtv.start_job"
CONVERT_CHUNK = "hdrtv.convert_chunk"
ASSEMBLE_JOB = "hdrtv.assemble_job"
DELIVER_CALLBACK = "hdrtv.deliver_callback"

CPU_QUEUE = "cpu"
GPU_QUEUE = "gpu"
ROUTES = {START_JOB: CPU_QUEUE, CONVERT_CHUNK: GPU_QUEUE, ASSEMBLE_JOB: CPU_QUEUE, DELIVER_CALLBACK: CPU_QUEUE}
"""Task name -> queue: probing, assembling and callbacks need no GPU."""
