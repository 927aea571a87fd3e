"""Video files with PyAV: probing, decoding, shot cuts, chunk plans, HEVC encoding and SEI, and
the assembly of encoded chunks into the output file."""
