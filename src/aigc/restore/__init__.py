"""Image restoration and style: super-resolution, denoising, inpainting, style transfer.

Networks, objectives for the Trainer, the :class:`RestorePipeline` (``aigc.load``) and the CLI
commands ``aigc train restore``, ``aigc upscale``, ``aigc denoise``, ``aigc inpaint`` and
``aigc stylize``. Degradations follow the literature's protocols (see ``degrade``).
"""
