"""Transfer learning for any task: ``--init-from``, ``--freeze`` and LoRA adapters (the ``transfer`` training extension)."""
