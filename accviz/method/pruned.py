"""The pruned BERT forward: one readable loop over layers that eliminates word-vectors.

Layer l, for a batch of B sequences with n_l word-vectors each (padding masked):

    x (B, n_l, d) --self-attention + residual + LayerNorm--> h (B, n_l, d)
    scores = scorer(A (B, H, n_l, n_l), V (B, H, n_l, d_h), mask)          # (B, n_l)
    keep [CLS] + the top (k_l - 1) others, in their original order        # (B, k_l)
    h (B, k_l, d) --FFN + residual + LayerNorm--> x (B, k_l, d)             # FFN on kept only

Word-vectors are physically removed with ``gather`` so later layers do less work. A batch is
gathered to the largest k_l in it; the shorter sequences carry masked fillers. Only [CLS] feeds
the pooler, so the last layer runs its query, output projection and FFN for [CLS] alone
(``exact_last_layer``): same logits, less work.

With ``profile.fuse`` (EViT-style fusion, ``_fuse``) the word-vectors eliminated so far are not
lost: their score-weighted mean rides along as one extra vector after the kept ones,
x (B, k_l + 1, d), attended to like a kept word-vector but never scored or eliminated.

The HF modules are reused by their real names (``layer.attention.self.query``,
``layer.intermediate.dense``, ...): any BERT-family checkpoint's weights work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from accviz.errors import AccvizError, ModelLoadError, ProfileError
from accviz.method.profile import EliminationProfile
from accviz.method.scoring import AccScorer, TokenScorer


@dataclass
class LayerTrace:
    """What happened in one layer (0-based ``layer``), for the app and the tests."""

    layer: int
    positions: torch.Tensor  # (B, n_l) original positions of the word-vectors entering the layer; -1 = filler
    mask: torch.Tensor  # (B, n_l) True for real word-vectors entering the layer
    scores: torch.Tensor | None  # (B, n_l) normalised scores, None where the layer did not score
    kept_positions: torch.Tensor  # (B, k_l) original positions kept after the layer; -1 = filler
    kept_mask: torch.Tensor  # (B, k_l)
    attention: torch.Tensor | None = None  # (B, H, n_q, n_l) when asked for; n_q = 1 in a [CLS]-only layer

    @property
    def kept_counts(self) -> torch.Tensor:  # (B,)
        return self.kept_mask.sum(dim=1)


@dataclass
class PrunedOutput:
    logits: torch.Tensor | None  # (B, C); None for a bare BertModel
    pooled: torch.Tensor | None  # (B, d) pooler output, when the model has a pooler
    last_hidden: torch.Tensor  # (B, k_L, d): the word-vectors that survived the last layer
    last_mask: torch.Tensor  # (B, k_L)
    traces: list[LayerTrace] = field(default_factory=list)


def select_kept(
    scores: torch.Tensor, mask: torch.Tensor, keep_counts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which word-vectors to keep: [CLS] always, then the highest scores; padding goes first.

    scores (B, n), mask (B, n) bool, keep_counts (B,) -> kept indices (B, K) into the current
    layout and their mask (B, K), K = max(keep_counts). Row b holds its keep_counts[b] kept
    word-vectors first, in their original order, then masked fillers.
    """
    B, n = scores.shape
    K = int(keep_counts.max())
    ranked = scores.masked_fill(~mask, float("-inf"))
    ranked[:, 0] = float("inf")  # [CLS] always stays
    top = torch.topk(ranked, K, dim=1).indices  # (B, K), best first
    is_kept = torch.arange(K, device=scores.device)[None, :] < keep_counts[:, None]  # (B, K)
    order_key = torch.where(is_kept, top, top + n)  # kept first, each group in original order
    top = top.gather(1, order_key.argsort(dim=1))
    return top, is_kept  # is_kept stays valid: the kept now come first in every row


def _gather_rows(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """tensor (B, n, ...) gathered along dim 1 with indices (B, K) -> (B, K, ...)."""
    if tensor.dim() == 2:
        return tensor.gather(1, indices)
    expanded = indices.view(*indices.shape, *([1] * (tensor.dim() - 2))).expand(-1, -1, *tensor.shape[2:])
    return tensor.gather(1, expanded)


def _fuse(h, n, scores, mask, kept_idx, kept_mask, fused_mass):
    """EViT-style fusion: the word-vectors eliminated in this layer join the fused vector.

        f_l = (m_{l-1} f_{l-1} + sum_{j eliminated at l} s_j h_j) / (m_{l-1} + sum_j s_j),
        m_l = m_{l-1} + sum_{j eliminated at l} s_j

    a score-weighted mean of everything eliminated so far, each word-vector weighted by its score
    (a share of its layer's total) at the layer it left; f_{l-1} is the fused vector as updated by
    the layers since. h (B, n [+1], d), scores (B, n) -> fused (B, 1, d), mass (B,).
    """
    is_kept = torch.zeros_like(mask).scatter(1, kept_idx, kept_mask)  # (B, n)
    weights = scores.masked_fill(~mask | is_kept, 0.0).to(h.dtype)  # (B, n): eliminated here only
    merged = torch.bmm(weights[:, None, :], h[:, :n])  # (B, 1, d) = sum_j s_j h_j
    mass = weights.sum(dim=1)  # (B,)
    if fused_mass is not None:
        merged = merged + fused_mass[:, None, None] * h[:, n:]  # h[:, n:] is (B, 1, d): f_{l-1}
        mass = mass + fused_mass
    return merged / mass.clamp_min(1e-12)[:, None, None], mass


def _attention_probs(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
    """softmax(q k^T * scale) with padding keys masked: q (B, H, n_q, d_h), k (B, H, n, d_h),
    mask (B, n) -> (B, H, n_q, n). The map is the largest tensor of a layer, so it is made in one
    pass: the scale goes on q, the mask is applied in place (matmul's backward does not need its
    output) and only when there is padding."""
    logits = torch.matmul(q * scale, k.transpose(-1, -2))  # (B, H, n_q, n)
    if not bool(mask.all()):
        logits.masked_fill_(~mask[:, None, None, :], torch.finfo(logits.dtype).min)
    return torch.softmax(logits, dim=-1)


SCORE_CHUNK_BYTES = 4 << 20  # above this, the scores are computed a few sequences at a time


def _chunked_scores(q, k, v, mask, scale: float, scorer: TokenScorer) -> torch.Tensor:
    """Scores without the whole (B, H, n, n) map: a few sequences at a time, each chunk's map small
    enough to stay in cache. The context came from the fused kernel; this recomputes q k^T once more
    (n^2 d MACs) but avoids writing and re-reading a map of B*H*n^2 floats (50 MB for MiniLM at
    16 x 256 tokens). Scorers normalise per sequence, so chunking along the batch is exact.

    q, k, v (B, H, n, d_h), mask (B, n) -> (B, n).
    """
    B, H, n, _ = q.shape
    per_sequence = H * n * n * q.element_size()
    step = max(1, SCORE_CHUNK_BYTES // (4 * per_sequence))
    scores = []
    for start in range(0, B, step):
        rows = slice(start, start + step)
        probs = _attention_probs(q[rows], k[rows], mask[rows], scale)  # (b, H, n, n)
        scores.append(scorer.score(probs, v[rows], mask[rows]))  # (b, n)
    return torch.cat(scores)


class PrunedBert(nn.Module):
    """Runs a HF ``BertForSequenceClassification`` or ``BertModel`` with word-vector elimination.

    >>> pruned = PrunedBert(model)
    >>> out = pruned(input_ids, attention_mask, token_type_ids, profile=profile, scorer=AccScorer())
    >>> out.logits, out.traces[0].kept_positions

    ``profile=None`` (or an all-ones profile) runs without elimination and equals the HF model.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        if hasattr(model, "bert") and hasattr(model, "classifier"):
            self.bert, self.classifier, self.head_dropout = model.bert, model.classifier, model.dropout
        elif hasattr(model, "encoder") and hasattr(model, "embeddings"):
            self.bert, self.classifier, self.head_dropout = model, None, None
        else:
            raise ModelLoadError(
                f"{type(model).__name__} is not a BERT model: accviz needs BertForSequenceClassification or BertModel."
            )
        config = self.bert.config
        if getattr(config, "model_type", "bert") != "bert":
            raise ModelLoadError(f"model_type {config.model_type!r} is not BERT-family.")
        if getattr(config, "is_decoder", False):
            raise ModelLoadError("A BERT decoder (is_decoder=True) cannot eliminate word-vectors.")
        self.config = config
        self.num_layers = config.num_hidden_layers
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.model = model  # kept for .train()/.eval() and parameters

    @property
    def has_classifier(self) -> bool:
        return self.classifier is not None

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        attention_mask: torch.Tensor | None = None,  # (B, T), 1 = real token
        token_type_ids: torch.Tensor | None = None,  # (B, T)
        *,
        profile: EliminationProfile | None = None,
        scorer: TokenScorer | None = None,  # None: ACC
        exact_last_layer: bool | None = None,
        output_attentions: bool = False,
        output_scores: bool = False,
        fused_attention: bool = True,  # False: every layer computes its attention map (the reference)
    ) -> PrunedOutput:
        B, T = input_ids.shape
        device = input_ids.device
        if attention_mask is None:
            attention_mask = torch.ones(B, T, dtype=torch.long, device=device)
        if profile is not None and profile.num_layers != self.num_layers:
            raise ProfileError(f"Profile has {profile.num_layers} layers; the model has {self.num_layers}.")
        if profile is not None and profile.is_identity:
            profile = None
        if exact_last_layer is None:  # a classifier only reads [CLS]; a bare encoder may need every vector
            exact_last_layer = self.has_classifier
        scorer = AccScorer() if scorer is None else scorer
        if not isinstance(scorer, TokenScorer):
            raise AccvizError(
                f"scorer must be a TokenScorer (accviz.get_scorer({scorer!r})), not {scorer!r}."
            )
        mask = attention_mask.bool()  # (B, T)
        lengths = mask.sum(dim=1)  # (B,) real lengths, the base of every k_l
        positions = torch.arange(T, device=device).expand(B, T).masked_fill(~mask, -1)  # (B, T)

        x = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, T, d)
        fuse = profile is not None and profile.fuse
        fused_mass = None  # (B,) score mass merged into the fused vector; None: no fused slot yet
        traces: list[LayerTrace] = []
        for layer_index, layer in enumerate(self.bert.encoder.layer):
            is_last = layer_index == self.num_layers - 1
            cls_only = exact_last_layer and is_last
            n = mask.shape[1]  # real slots; x holds one more, the fused vector, once fused_mass exists
            if profile is not None and not cls_only:
                keep_counts = torch.minimum(profile.kept_counts_tensor(layer_index, lengths), mask.sum(dim=1))
                eliminates = bool((keep_counts < mask.sum(dim=1)).any()) or int(keep_counts.max()) < n
            else:
                keep_counts, eliminates = None, False
            want_scores = eliminates or (output_scores and not cls_only)
            slot_mask = mask if fused_mass is None else torch.cat([mask, (fused_mass > 0)[:, None]], 1)

            need_probs = not fused_attention or output_attentions or (want_scores and scorer.needs_attention)
            # A large map is never materialised whole when only the scores read it (see _chunked_scores)
            map_bytes = B * self.num_heads * slot_mask.shape[1] ** 2 * x.element_size()
            chunked = (
                need_probs and fused_attention and not output_attentions and map_bytes > SCORE_CHUNK_BYTES
            )
            h, probs, values, q, k = self._attention_block(
                layer, x, slot_mask, cls_only, need_probs and not chunked
            )
            scores = None
            if want_scores:
                with torch.no_grad():  # the ranking picks indices; no gradient flows through it
                    if chunked:
                        scale = layer.attention.self.scaling
                        scores = _chunked_scores(
                            q.detach(), k.detach(), values.detach(), slot_mask, scale, scorer
                        )
                    else:
                        detached = probs.detach() if probs is not None else None
                        scores = scorer.score(detached, values.detach(), slot_mask)
                    scores = scores[:, :n]  # (B, n_l)
                    if fused_mass is not None:  # the fused vector is never scored: renormalise the rest
                        scores = scores / scores.sum(dim=1, keepdim=True).clamp_min(1e-12)

            if cls_only:
                kept_idx = torch.zeros(B, 1, dtype=torch.long, device=device)
                kept_mask = torch.ones(B, 1, dtype=torch.bool, device=device)
                fused_mass = None  # only [CLS] leaves the last layer
            elif eliminates:
                kept_idx, kept_mask = select_kept(scores, mask, keep_counts)  # (B, k_l)
                kept_h = _gather_rows(h[:, :n], kept_idx)  # (B, n_l, d) -> (B, k_l, d)
                if fuse:
                    fused, fused_mass = _fuse(h, n, scores, mask, kept_idx, kept_mask, fused_mass)
                    h = torch.cat([kept_h, fused], dim=1)  # (B, k_l + 1, d)
                else:
                    h = kept_h
            else:
                kept_idx, kept_mask = None, mask

            kept_positions = positions if kept_idx is None else _gather_rows(positions, kept_idx)
            kept_positions = kept_positions.masked_fill(~kept_mask, -1)
            traces.append(
                LayerTrace(
                    layer=layer_index,
                    positions=positions,
                    mask=mask,
                    scores=scores,
                    kept_positions=kept_positions,
                    kept_mask=kept_mask,
                    attention=probs[:, :, :n, :n] if output_attentions else None,  # without the fused slot
                )
            )
            x = layer.output(layer.intermediate(h), h)  # FFN on kept word-vectors (and the fused one)
            mask, positions = kept_mask, kept_positions
        x = x[:, : mask.shape[1]]  # the fused vector, if any, is not an output word-vector

        pooled = self.bert.pooler(x) if self.bert.pooler is not None else None  # reads x[:, 0] = [CLS]
        logits = self.classifier(self.head_dropout(pooled)) if self.classifier is not None else None
        return PrunedOutput(logits=logits, pooled=pooled, last_hidden=x, last_mask=mask, traces=traces)

    def _attention_block(self, layer, x: torch.Tensor, mask: torch.Tensor, cls_only: bool, need_probs: bool):
        """Self-attention sub-layer with residual and LayerNorm; returns h, A and V.

        x (B, n, d), mask (B, n) -> h (B, n_q, d), probs (B, H, n_q, n) or None, values (B, H, n, d_h),
        and q (B, H, n_q, d_h), k (B, H, n, d_h);
        n_q = 1 when only the [CLS] query is needed. A layer whose scores nobody reads (no
        elimination after it, the [CLS]-only last layer, a scorer that ignores attention) runs
        ``scaled_dot_product_attention``, the fused kernel HF's sdpa model uses, and returns no
        probabilities: the same context without materialising the (B, H, n_q, n) map.
        """
        attention = layer.attention.self
        B, n, _ = x.shape
        H, d_h = self.num_heads, self.head_size
        queries_in = x[:, :1] if cls_only else x  # (B, n_q, d)
        q = attention.query(queries_in).view(B, -1, H, d_h).transpose(1, 2)  # (B, H, n_q, d_h)
        k = attention.key(x).view(B, n, H, d_h).transpose(1, 2)  # (B, H, n, d_h)
        v = attention.value(x).view(B, n, H, d_h).transpose(1, 2)  # (B, H, n, d_h)
        if not need_probs:
            key_mask = None if bool(mask.all()) else mask[:, None, None, :]  # (B, 1, 1, n), True = attend
            dropout = attention.dropout.p if attention.training else 0.0
            context = F.scaled_dot_product_attention(
                q, k, v, attn_mask=key_mask, dropout_p=dropout, scale=attention.scaling
            )  # (B, H, n_q, d_h)
            context = context.transpose(1, 2).reshape(B, -1, H * d_h)  # (B, n_q, d)
            return layer.attention.output(context, queries_in), None, v, q, k
        probs = _attention_probs(q, k, mask, attention.scaling)  # (B, H, n_q, n); padding keys get 0
        dropped = F.dropout(probs, p=attention.dropout.p, training=attention.training)  # follow the HF module
        context = torch.matmul(dropped, v).transpose(1, 2).reshape(B, -1, H * d_h)  # (B, n_q, d)
        h = layer.attention.output(context, queries_in)  # dense + dropout + LayerNorm(residual)
        return h, probs, v, q, k
