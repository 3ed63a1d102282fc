"""Text-to-video generation on the GPU worker (diffusers)."""
