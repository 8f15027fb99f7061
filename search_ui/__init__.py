"""The Streamlit search UI (the UI issue)."""
