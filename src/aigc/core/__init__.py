"""Shared machinery: configs, model directories, registry, device and precision, seeding, errors."""
