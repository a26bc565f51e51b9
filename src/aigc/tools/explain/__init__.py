"""Explanations for any model: Captum attributions, attention maps, latent maps (``aigc explain``)."""
