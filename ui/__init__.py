"""The Streamlit chat app (installed as ragkit_ui)."""
