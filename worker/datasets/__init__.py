"""Training datasets from video files and HDR images: paired SDR/HDR sequences on disk."""
