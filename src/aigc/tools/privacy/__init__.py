"""Privacy tools: DP-SGD training (Opacus), its accountant, membership audits and text anonymisation."""
