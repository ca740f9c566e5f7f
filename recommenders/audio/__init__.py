"""Content-based recommendation from audio: log-mel slices, a Conv1D genre/style classifier whose penultimate layer
embeds each slice, and nearest neighbours over the slices of the catalogue with votes per track."""
