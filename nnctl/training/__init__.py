"""Training: the checkpointed loop, callbacks, modes, progress, and the run orchestration."""
