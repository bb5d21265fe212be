"""accviz app: a latency-adjustable BERT, live. Run with `accviz app` (or `streamlit run app/streamlit_app.py`)."""

import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `streamlit run` puts app/ on the path, not the folder that holds `app`
    sys.path.insert(0, str(REPO_ROOT))

import streamlit as st  # noqa: E402

from app import resources  # noqa: E402
from app.views import attribution, corpus, explore, method, tradeoff  # noqa: E402

st.set_page_config(
    page_title="accviz — latency-adjustable BERT", page_icon=":material/content_cut:", layout="wide"
)
navigation = st.navigation(
    [
        st.Page(
            explore.render,
            title="Explore",
            url_path="explore",
            icon=":material/manage_search:",
            default=True,
        ),
        st.Page(tradeoff.render, title="Trade-off", url_path="tradeoff", icon=":material/balance:"),
        st.Page(corpus.render, title="Corpus", url_path="corpus", icon=":material/table_chart:"),
        st.Page(attribution.render, title="Attribution", url_path="attribution", icon=":material/insights:"),
        st.Page(method.render, title="Method", url_path="method", icon=":material/school:"),
    ]
)
started = time.perf_counter()
finished = False
try:
    navigation.run()
    finished = True
finally:  # a run cut short by a rerun (the visitor moved on) is recorded as not finished
    resources.metrics().record(
        "page", navigation.url_path or "explore", run_s=time.perf_counter() - started, ok=finished
    )
