"""Provenance: invisible watermarks on every medium aigc writes, and ``aigc verify``.

Each medium has a module with ``embed_*`` (used by the writers in :mod:`aigc.core.artifacts`
through its ``WATERMARKERS`` registry) and ``detect_*``; :mod:`.payload` holds what they share: the
32-bit payload (model-id prefix + a flag bit), its CRC-24 check, repetition coding and the dithered
quantisation index modulation (QIM, Chen & Wornell 2001) that carries each coded bit.
"""
