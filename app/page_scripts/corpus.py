import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `app` under streamlit run

from app.views import corpus  # noqa: E402

corpus.render()
