"""Content-based recommendation from audio: bounded decoding, the same start/middle/end windows for clips and
catalogue, the pretrained musicnn tagger/embedder (or a trained Conv1D classifier), nearest neighbours over the
catalogue's patches ("sounds alike"), Last.fm tags bridging to the whole catalogue ("tagged alike"), and a
calibrated "I am not sure what this is" for clips that are not music."""
