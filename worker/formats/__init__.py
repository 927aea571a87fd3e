"""Output formats: what an HDR output's bitstream and container say about its colour (transfer,
primaries, matrix) and its metadata (SEI messages, container boxes), one module per format."""
