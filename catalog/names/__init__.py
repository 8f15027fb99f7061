"""Names people use -> taxa: the catalog's names, the eBird/Clements bird checklist, WordNet's animal nouns."""

from catalog.names.resolver import Meaning, NameResolver, Resolution, TaxonRef, singulars

__all__ = ["Meaning", "NameResolver", "Resolution", "TaxonRef", "singulars"]
