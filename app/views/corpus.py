"""Corpus: a whole data set through the lens. What each layer keeps and drops, where the pruned
model goes wrong, and whether the scores agree (``accviz.explain.lens``)."""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

import streamlit as st

from accviz.data.corpus import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, corpus_from_task_data, read_corpus_file
from accviz.errors import AccvizError
from accviz.explain import lens as lenses
from accviz.figures import lens_plots
from accviz.store.cache import directory_fingerprint
from app import links, resources, state


def max_corpus_examples() -> int:
    """Cap on the examples one visitor runs through the lens (the dev split or an upload): the
    CLI's 20,000 rows on loopback, 2,000 on an exposed server, where one visitor's lens holds the
    measurement queue for everyone (ACCVIZ_MAX_CORPUS_EXAMPLES overrides both)."""
    default = 2_000 if resources.server_is_exposed() else DEFAULT_MAX_ROWS
    return int(os.environ.get("ACCVIZ_MAX_CORPUS_EXAMPLES", default))


def _corpus(selection, upload):
    """The dev split of the selected task, or the uploaded file (read in memory, never saved)."""
    cap = max_corpus_examples()
    if upload is not None:
        return read_corpus_file(upload.name, selection.spec, content=upload.getvalue(), max_rows=cap,
                                max_bytes=DEFAULT_MAX_BYTES)  # fmt: skip
    data, error = state.dev_split(selection.spec)
    if data is None:
        raise AccvizError(f"No dev data for {selection.spec.display_name}: {error}")
    return corpus_from_task_data(data.subset(cap, seed=0) if len(data) > cap else data)


def _lens(selection, corpus, speedup: float, bar):
    """The lens of this corpus: from the server's cache, else computed in the measurement queue
    (a heavy job: one at a time) and stored under ACCVIZ_CACHE/corpus."""
    weights = "int8" if selection.int8 else "fp32"
    fingerprint = f"{directory_fingerprint(selection.reference)} {weights}"

    def compute():
        loaded = resources.load_model_cached(selection.reference, selection.allow_pickle, selection.int8)
        lens, _, _ = lenses.lens_of(
            loaded.model, loaded.tokenizer, corpus, selection.spec, model_fingerprint=fingerprint,
            target_speedup=speedup, strategy=selection.strategy, about={"model": selection.reference, "weights": weights},
            progress=lambda stage, done, total: bar.progress(done / max(total, 1), text=f"{done}/{total} batches"),
            store=not resources.server_is_exposed(),  # a shared server: in memory only, the disk does not fill up
        )  # fmt: skip
        return lens

    key = (
        "lens",
        fingerprint,
        selection.spec.name,
        corpus.fingerprint,
        float(speedup),
        selection.strategy.name,
    )
    return resources.cached_in_line(key, compute, "measurement")


def _explore_link(row, speedup: float, selection) -> str:
    """Explore on this row's text (each text cut to ``links.MAX_LINK_TEXT``), at this page's settings."""
    query, _ = links.link_params(
        speedup=speedup, strategy=selection.strategy.name, task=selection.spec.name,
        model=state.link_model(selection.choice or selection.reference), text=row.text,
        text_b=row.text_b if isinstance(row.text_b, str) else None,
    )  # fmt: skip
    return "./explore?" + urlencode(query)


def render() -> None:
    selection = state.sidebar()
    spec = selection.spec
    st.title("A whole data set through the lens")
    st.caption(
        "The unpruned and the pruned model over every example: which kinds of word-vectors each layer "
        "keeps, which words leave first, where pruning changes the answer, and whether the scores agree."
    )
    speedup = state.speedup_slider("corpus_speedup")
    state.share_link(selection, speedup)
    upload = st.file_uploader(
        f"…or your own file: CSV/TSV with a `text` column (optional `text_b`, `label`), or plain text, one "
        f"example per line; at most {max_corpus_examples():,} rows and 20 MB, kept in memory only",
        type=["csv", "tsv", "txt"],
        key="corpus_upload",
        max_upload_size=20,
    )
    if selection.predictions_label:  # the lens sets the pruned model's predictions against the unpruned's
        st.info(
            f"The corpus lens: {selection.predictions_label}. It compares the pruned and the unpruned model's "
            f"predictions over a whole data set, and predictions are {selection.predictions_note}.",
            icon=":material/hourglass:",
        )
        return
    bar = st.progress(0.0, text="running the lens…")
    try:
        corpus = _corpus(selection, upload)
        lens = _lens(selection, corpus, speedup, bar)
    except AccvizError as error:
        bar.empty()
        st.error(str(error))
        return
    bar.empty()
    card = lens.card
    st.caption(
        f"{card['source']}: {card['n_examples']:,} examples · {selection.strategy.name} at {speedup:g}x (estimated "
        f"{card['estimated_speedup']:.2f}x on these lengths) · computed in {card['seconds']:.1f} s"
    )

    tokens, examples = lens.tokens, lens.examples
    left, right = st.columns(2)
    left.plotly_chart(
        lens_plots.survival_heatmap(lenses.survival_by_category(tokens)),
        key="corpus_categories",
        config=state.figure_config("corpus-categories"),
    )
    right.plotly_chart(
        lens_plots.agreement_lines(lens.agreement),
        key="corpus_agreement",
        config=state.figure_config("corpus-agreement"),
    )
    left, right = st.columns(2)
    left.plotly_chart(
        lens_plots.survival_lines(
            lenses.survival_by_position(tokens),
            x_title="relative position (decile)",
            title="Share kept by position in the input",
        ),  # fmt: skip
        key="corpus_position",
        config=state.figure_config("corpus-position"),
    )
    right.plotly_chart(
        lens_plots.survival_lines(
            lenses.survival_by_frequency(tokens),
            x_title="word frequency in this corpus",
            title="Share kept by how common the word is",
        ),  # fmt: skip
        key="corpus_frequency",
        config=state.figure_config("corpus-frequency"),
    )
    min_count = st.number_input("Word types seen at least", 2, 100, 5, key="corpus_min_count")
    words = lenses.word_type_table(tokens, int(min_count))
    left, right = st.columns(2)
    left.plotly_chart(lens_plots.word_type_bars(words, "reached_last_layer", title="Most often reach the last layer"),
                      key="corpus_words_kept", config=state.figure_config("corpus-words-kept"))  # fmt: skip
    right.plotly_chart(lens_plots.word_type_bars(words, "eliminated_first", title="Most often eliminated first"),
                       key="corpus_words_first", config=state.figure_config("corpus-words-first"))  # fmt: skip
    by_length = lenses.metric_by_length(examples, spec)
    if by_length["pruned"].notna().any():
        st.plotly_chart(
            lens_plots.length_metric_bars(by_length, spec.primary_metric),
            key="corpus_length",
            config=state.figure_config("corpus-length"),
        )
    else:
        st.dataframe(by_length, hide_index=True, key="corpus_length_table")

    flipped = lenses.flips(examples)
    st.subheader(f"Flips: {len(flipped)} of {len(examples):,} predictions change under pruning")
    if len(flipped):
        shown = flipped.assign(
            explore=[_explore_link(row, speedup, selection) for row in flipped.itertuples()]
        )
        columns = [c for c in ("text", "text_b", "gold", "unpruned_label", "pruned_label", "unpruned", "pruned",
                               "effect", "length", "explore") if c in shown and shown[c].notna().any()]  # fmt: skip
        st.dataframe(
            shown[columns],
            hide_index=True,
            key="corpus_flips",
            column_config={"explore": st.column_config.LinkColumn("open in Explore", display_text="open")},
        )

    def tokens_csv() -> bytes:
        return tokens.to_csv(index=False).encode()

    left, right = st.columns(2)
    left.download_button("Per-token table (CSV)", tokens_csv, file_name="accviz-corpus-tokens.csv", mime="text/csv",
                         on_click="ignore", key="corpus_download_tokens")  # fmt: skip
    right.download_button(
        "Summary (JSON)", lambda: json.dumps(lenses.summary(lens, spec, int(min_count)), indent=1),
        file_name="accviz-corpus-summary.json", mime="application/json", on_click="ignore",
        key="corpus_download_summary",
    )  # fmt: skip
