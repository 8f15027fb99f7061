"""Encoders: audio, image and text into one L2-normalised space; presets as JSON, one factory."""
