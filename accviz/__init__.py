"""accviz: latency-adjustable BERT by Attention Context Contribution (ACC) word-vector elimination."""

from accviz.errors import AccvizError, CacheError, DataError, ModelLoadError, ProfileError
from accviz.method.flops import EncoderShape, FlopsEstimate, estimate_flops, estimated_speedup, unpruned_flops
from accviz.method.profile import EliminationProfile, geometric_profile, tilt_profile
from accviz.method.pruned import LayerTrace, PrunedBert, PrunedOutput, select_kept
from accviz.method.scoring import STRATEGIES, ChosenStrategy, TokenScorer, choose_strategy, get_scorer
from accviz.method.speedup import SolvedProfile, solve_profile

__version__ = "0.1.0"

__all__ = [
    "AccvizError",
    "CacheError",
    "DataError",
    "ModelLoadError",
    "ProfileError",
    "EncoderShape",
    "FlopsEstimate",
    "estimate_flops",
    "estimated_speedup",
    "unpruned_flops",
    "EliminationProfile",
    "geometric_profile",
    "tilt_profile",
    "LayerTrace",
    "PrunedBert",
    "PrunedOutput",
    "select_kept",
    "STRATEGIES",
    "TokenScorer",
    "get_scorer",
    "ChosenStrategy",
    "choose_strategy",
    "SolvedProfile",
    "solve_profile",
]
