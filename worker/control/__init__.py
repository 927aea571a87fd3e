"""What the API and the workers share, torch-free: settings, conversion options, job records and
their Redis store, the task queue, and object storage. The API process imports this package and
nothing else of `hdrtv.worker` (tests/test_project_layout.py checks both)."""
