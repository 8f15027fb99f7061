"""Encoders: audio, image and text into one L2-normalised space (filled by the encoders issue)."""
