"""VITA Search: one embedding space for animal sounds, photos and taxonomy text."""

__version__ = "0.1.0"
