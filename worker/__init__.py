"""Video conversion on top of `hdrtv.model`: `pipeline.py` converts one file; `control/` is what the
API shares with the workers (torch-free), `media/` reads and writes video, `formats/` says what an
output signals, `jobs/` runs jobs under Celery, `bench/` and `datasets/` serve `hdrtv bench` and
training. ARCHITECTURE.md has the map."""
