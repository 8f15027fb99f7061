"""`vita api`: the HTTP search API for apps (FastAPI; `make_app`)."""
