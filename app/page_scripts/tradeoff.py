import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `app` under streamlit run

from app.views import tradeoff  # noqa: E402

tradeoff.render()
