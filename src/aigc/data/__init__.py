"""Data sources, transforms and downloads."""
