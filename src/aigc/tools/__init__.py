"""Tools that work on any task's model through the registry and the model directory."""
