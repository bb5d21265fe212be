"""accviz app: a latency-adjustable BERT, live. Run with `accviz app` (or `streamlit run app/streamlit_app.py`)."""

import time
from pathlib import Path

import streamlit as st

from app import state

PAGES = (
    Path(__file__).resolve().parent / "page_scripts"
)  # not pages/: that name turns on legacy auto-discovery

st.set_page_config(
    page_title="accviz — latency-adjustable BERT", page_icon=":material/content_cut:", layout="wide"
)
navigation = st.navigation(
    [
        st.Page(
            PAGES / "explore.py",
            title="Explore",
            url_path="explore",
            icon=":material/manage_search:",
            default=True,
        ),
        st.Page(PAGES / "tradeoff.py", title="Trade-off", url_path="tradeoff", icon=":material/balance:"),
        st.Page(PAGES / "corpus.py", title="Corpus", url_path="corpus", icon=":material/table_chart:"),
        st.Page(
            PAGES / "attribution.py", title="Attribution", url_path="attribution", icon=":material/insights:"
        ),
        st.Page(PAGES / "method.py", title="Method", url_path="method", icon=":material/school:"),
    ]
)
started = time.perf_counter()
finished = False
try:
    navigation.run()
    finished = True
finally:  # a run cut short by a rerun (the visitor moved on) is recorded as not finished
    state.metrics().record(
        "page", navigation.url_path or "explore", run_s=time.perf_counter() - started, ok=finished
    )
