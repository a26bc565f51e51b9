"""Image generation: GANs and VAEs (networks, objectives for the Trainer, the Pipeline, CLI)."""
