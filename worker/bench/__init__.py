"""`hdrtv bench`: per-stage and end-to-end throughput, the model's optimisation ladder, reports."""
