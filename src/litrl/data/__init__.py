"""The data side: buffers, the env collector and the env-rollout DataModule."""
