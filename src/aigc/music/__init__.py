"""Polyphonic symbolic music: an RNN-NADE frame model, an event Transformer and a Coconet infilling
model, trained on the JSB Chorales or a MIDI folder; generation, continuation and harmonisation.

``aigc.music.task.TASK`` describes the task to the CLI and the registry.
"""
