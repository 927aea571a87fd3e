"""Video I/O, chunking, object storage and Celery tasks (built on `hdrtv.model`)."""
