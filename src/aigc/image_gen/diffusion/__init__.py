"""Denoising diffusion: the noise schedule (plain class), the U-Net (pure module), the DDPM objective
with DDIM sampling, classifier-free guidance and inpainting."""
