"""The catalog: taxa, traits, media records, licences, splits and failures (SQLAlchemy)."""
