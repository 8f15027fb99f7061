"""The Streamlit search UI: pages over the same search module as the CLI and the API."""
