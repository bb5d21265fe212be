"""The one exception family of accviz: messages a user can act on."""


class AccvizError(Exception):
    """Base class: every error accviz raises on purpose. The CLI prints it and exits 1; the app shows it."""


class ModelLoadError(AccvizError):
    """A checkpoint that is missing, malformed, not BERT-family, or unsafe to load."""


class DataError(AccvizError):
    """A task, split or data file that cannot be found or parsed."""


class ProfileError(AccvizError):
    """An elimination profile or target speedup that is out of range."""


class CacheError(AccvizError):
    """A cache file that is corrupt, foreign, or cannot be written."""


class TrainingPaused(AccvizError):
    """A resumable fine-tune stopped at its time budget; nothing was published, its state is saved."""
