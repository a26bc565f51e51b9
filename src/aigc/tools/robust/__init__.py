"""Robustness tools: adversarial attacks, adversarial training and robustness audits of any classifier."""
