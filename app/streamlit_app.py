"""accviz app: a latency-adjustable BERT, live. Run with `accviz app` (or `streamlit run app/streamlit_app.py`)."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # `app` and `accviz` importable under streamlit run

from app.views import attribution, explore, method, tradeoff  # noqa: E402

st.set_page_config(page_title="accviz — latency-adjustable BERT", page_icon="✂️", layout="wide")

pages = [
    st.Page(explore.render, title="Explore", icon="🔎", url_path="explore", default=True),
    st.Page(tradeoff.render, title="Trade-off", icon="⚖️", url_path="tradeoff"),
    st.Page(attribution.render, title="Attribution", icon="🧭", url_path="attribution"),
    st.Page(method.render, title="Method", icon="📐", url_path="method"),
]
st.navigation(pages).run()
