"""accviz app: a latency-adjustable BERT, live. Run with `accviz app` (or `streamlit run app/streamlit_app.py`)."""

from pathlib import Path

import streamlit as st

PAGES = (
    Path(__file__).resolve().parent / "page_scripts"
)  # not pages/: that name turns on legacy auto-discovery

st.set_page_config(page_title="accviz — latency-adjustable BERT", page_icon="✂️", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "explore.py", title="Explore", icon="🔎", default=True),
        st.Page(PAGES / "tradeoff.py", title="Trade-off", icon="⚖️"),
        st.Page(PAGES / "attribution.py", title="Attribution", icon="🧭"),
        st.Page(PAGES / "method.py", title="Method", icon="📐"),
    ]
)
navigation.run()
