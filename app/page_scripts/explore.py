import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `app` under streamlit run

from app.views import explore  # noqa: E402

explore.render()
