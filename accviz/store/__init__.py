"""What accviz keeps on disk: the safe cache, safe checkpoint loading, the fine-tuned checkpoints.

cache        atomic writes, checksummed cards, locks, get_or_build
safety       limits on untrusted input
loading      inspect_checkpoint / load_model: BERT-family only, no pickle unless allowed
checkpoints  the default model and the user's fine-tuned models in the cache
"""
