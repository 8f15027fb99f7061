"""The seeds' published numbers, for the tables where our protocol is the same.

BioVITA (Stage 2): Table 3 (species, seen), Table 5 (genus and family), Table 6 (species, unseen),
Top-1 / Top-5 in %, 100-way. AnimalCLAP: Table 3's AnimalCLAP row (unseen species, five query
prompts) and Table 4 (ordered vs random taxonomy, top-1). Theirs are real recordings and photos
of thousands of species; ours are the demo world's synthetic media, so only the protocol matches.
"""

from __future__ import annotations

DIRS = ("A2T", "T2A", "A2I", "I2A", "I2T", "T2I")

#: (level, group) -> direction -> (top1, top5), BioVITA Stage 2
BIOVITA_STAGE2: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    ("species", "seen"): dict(zip(DIRS, [(63.7, 83.8), (81.1, 94.7), (50.3, 77.4), (57.5, 85.6),
                                         (86.3, 96.0), (91.2, 97.5)])),
    ("genus", "seen"): dict(zip(DIRS, [(53.6, 75.4), (84.9, 94.2), (43.2, 71.5), (48.6, 78.0),
                                       (74.7, 89.6), (90.7, 96.1)])),
    ("family", "seen"): dict(zip(DIRS, [(19.2, 38.2), (37.1, 55.0), (32.8, 60.0), (38.8, 66.1),
                                        (36.9, 58.0), (53.3, 74.5)])),
    ("species", "unseen"): dict(zip(DIRS, [(36.6, 62.2), (54.1, 74.8), (29.3, 54.3), (28.0, 55.5),
                                           (76.8, 94.7), (86.5, 96.2)])),
}

PROMPTS = ("com", "sci", "tax", "sci+com", "tax+com")
#: AnimalCLAP Table 3: trained with -> query prompt -> (top1, top5, mAP@5), unseen species
ANIMALCLAP_TABLE3: dict[str, dict[str, tuple[float, float, float]]] = {
    "com": dict(zip(PROMPTS, [(19.5, 42.1, 28.1), (0.81, 1.97, 1.23), (2.33, 6.71, 4.13), (14.6, 33.5, 21.4),
                              (9.75, 25.5, 15.7)])),
    "sci": dict(zip(PROMPTS, [(0.36, 1.52, 0.70), (23.6, 50.7, 33.2), (3.22, 11.4, 6.15), (22.1, 49.8, 32.2),
                              (2.42, 8.77, 4.59)])),
    "tax": dict(zip(PROMPTS, [(1.16, 5.81, 2.90), (3.49, 10.1, 5.76), (25.1, 51.5, 35.6), (1.61, 4.11, 2.50),
                              (20.4, 49.6, 31.4)])),
    "sci+com": dict(zip(PROMPTS, [(14.3, 39.5, 23.6), (10.6, 22.6, 14.7), (4.20, 9.57, 6.24), (24.9, 50.4, 34.5),
                                  (16.2, 37.7, 24.1)])),
    "tax+com": dict(zip(PROMPTS, [(7.60, 18.3, 11.4), (1.43, 6.26, 2.88), (19.7, 42.5, 28.1), (7.51, 17.9, 11.0),
                                  (25.6, 53.1, 35.6)])),
    "all": dict(zip(PROMPTS, [(21.4, 43.0, 29.4), (26.1, 52.5, 35.7), (26.6, 52.1, 36.2), (26.9, 53.2, 36.8),
                              (27.6, 53.5, 37.6)])),
}
#: AnimalCLAP Table 4: top-1 by query prompt (com, sci, tax)
ANIMALCLAP_TABLE4 = {"ordered": {"com": 21.4, "sci": 26.1, "tax": 26.6},
                     "random": {"com": 19.8, "sci": 21.3, "tax": 22.5}}

#: BioVITA Table 7: trait F1 on unseen species, BioVITA (Audio)
BIOVITA_TRAIT_F1_AUDIO = {"diet": 53.9, "activity": 83.7, "posture": 81.1, "lifestyle": 85.1, "trophic": 89.7, "habitat": 64.9,
                          "climate": 78.7, "social": 77.6, "migration": 45.7}
