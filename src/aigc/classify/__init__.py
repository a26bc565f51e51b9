"""Image classification: a small CNN (the classifier of the privacy and robustness tools)."""
