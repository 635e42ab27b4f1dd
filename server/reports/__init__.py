"""Reports people read, built from an exported log alone: HTML, CSV files and a transcript."""
