"""Running jobs on the workers: the Celery tasks, the steps they run, job files on scratch disk,
recovery of lost steps, completion callbacks, and the workers' Prometheus metrics."""
