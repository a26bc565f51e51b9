"""Audio: spoken-digit recognition and synthesis (FSDD), and the audio editor. The task entry is
``aigc.audio.task:TASK``; nothing heavy is imported here."""
