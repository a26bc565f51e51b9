"""The studio: HTTP API, job queue and web UI over the same Pipelines and train() functions as the CLI."""
