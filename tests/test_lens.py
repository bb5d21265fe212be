"""The corpus lens: words and categories, reading a user's file, the tables, caching, the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from accviz.data.corpus import Corpus, corpus_from_task_data, read_corpus_file
from accviz.data.tasks import get_task
from accviz.data.words import token_categories, word_types
from accviz.errors import DataError
from accviz.explain import lens as lenses
from accviz.method.pruned import PrunedBert

from .conftest import NEGATIVE, POSITIVE, tiny_vocab_classifier

SST2, STSB, MRPC = get_task("sst2"), get_task("stsb"), get_task("mrpc")


# --- words ---------------------------------------------------------------------------------


def test_pieces_join_back_to_words_and_every_token_gets_one_category():
    tokens = [
        "[CLS]",
        "un",
        "##bel",
        "##ievable",
        ",",
        "the",
        "1",
        ",",
        "000",
        "3.5",
        "film",
        "!",
        "[SEP]",
        "s",
        "[SEP]",
    ]
    assert word_types(tokens) == [
        "[CLS]", "unbelievable", "unbelievable", "unbelievable", ",", "the", "1", ",", "000", "3.5", "film", "!",
        "[SEP]", "s", "[SEP]",
    ]  # fmt: skip
    assert token_categories(tokens) == [
        "special", "sub-word", "sub-word", "sub-word", "punctuation", "stop word", "number", "punctuation",
        "number", "number", "other word", "punctuation", "special", "stop word", "special",
    ]  # fmt: skip
    assert word_types(["[CLS]", "##x", "Film"]) == ["[CLS]", "##x", "film"]  # a stray piece after [CLS]


# --- reading a user's file -----------------------------------------------------------------


def test_csv_tsv_and_plain_text_files(tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"good, really",positive\nbad,0\n\n')
    corpus = read_corpus_file(tmp_path / "a.csv", SST2)
    assert corpus.texts_a == ("good, really", "bad") and corpus.labels == (1, 0) and corpus.texts_b is None
    (tmp_path / "p.tsv").write_text("text\ttext_b\tlabel\ta cat\tthe cat\t1\n".replace("\ta cat", "\na cat"))
    pairs = read_corpus_file(tmp_path / "p.tsv", MRPC)
    assert pairs.texts_b == ("the cat",) and pairs.labels == (1,)
    (tmp_path / "s.tsv").write_text("text\ttext_b\tlabel\na\tb\t3.5\n")
    assert read_corpus_file(tmp_path / "s.tsv", STSB).labels == (3.5,)
    (tmp_path / "lines.txt").write_bytes("\ufefffirst line\n\n  second line  \n".encode())
    plain = read_corpus_file(tmp_path / "lines.txt", SST2)
    assert plain.texts_a == ("first line", "second line") and plain.labels is None
    same = read_corpus_file("upload.txt", SST2, content=(tmp_path / "lines.txt").read_bytes())
    assert same.fingerprint == plain.fingerprint  # the content is the key, not the name


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.txt", b"", "e.txt: the file is empty"),
        ("w.txt", b"  \n\n", "w.txt: the file is empty"),
        ("b.csv", b"text\nok\n\x00\x01\x02", "b.csv: looks binary (a NUL byte on line 3)"),
        ("l.txt", "fine\ncaf\u00e9\n".encode("latin-1"), "l.txt: not UTF-8 (line 2"),
        (
            "n.csv",
            b"sentence,label\nhi,1\n",
            "n.csv: no 'text' column in the header (columns: sentence, label)",
        ),
        ("r.csv", b"text,label\nhi,1\nthere,1,extra\n", "r.csv, line 3: 3 fields, the header has 2"),
        ("x.csv", b"text,label\nhi,maybe\n", "x.csv, line 2: label 'maybe' is not one of"),
        ("h.csv", b"text,label\n", "h.csv: a header but no rows"),
        ("t.csv", b"text,label\n ,1\n", "t.csv, line 2: the 'text' column is empty"),
    ],
)
def test_bad_files_are_one_clear_error_naming_the_file_and_line(name, content, message):
    with pytest.raises(DataError, match="^" + __import__("re").escape(message)):
        read_corpus_file(name, SST2, content=content)


def test_caps_on_rows_and_bytes_and_pairs(tmp_path):
    with pytest.raises(DataError, match="more than the 3-row cap .row 4 is on line 5"):
        read_corpus_file("many.csv", SST2, content=b"text\na\nb\nc\nd\n", max_rows=3)
    with pytest.raises(DataError, match="over the 1 MB cap"):
        read_corpus_file("big.txt", SST2, content=b"word " * 300_000, max_bytes=2**20)
    with pytest.raises(DataError, match="reads sentence pairs; add a text_b column"):
        read_corpus_file("one.txt", MRPC, content=b"only one sentence\n")
    with pytest.raises(DataError, match="no such file"):
        read_corpus_file(tmp_path / "missing.csv", SST2)


# --- the lens ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_lens(minilm_tokenizer):
    model = tiny_vocab_classifier(seed=1)
    texts = [f"{t} , number {i} of 12 , unbelievable !" for i, t in enumerate((POSITIVE + NEGATIVE) * 2)]
    labels = ([1] * 3 + [0] * 3) * 2
    corpus = Corpus(tuple(texts), None, tuple(labels), "fixture", "f" * 64)
    lens = lenses.run_lens(model, minilm_tokenizer, corpus, SST2, target_speedup=3.0, batch_size=5)
    return model, corpus, lens


def test_tables_have_one_row_per_example_token_and_layer(tiny_lens, minilm_tokenizer):
    model, corpus, lens = tiny_lens
    L = model.config.num_hidden_layers
    lengths = [len(minilm_tokenizer(t)["input_ids"]) for t in corpus.texts_a]
    assert len(lens.tokens) == L * sum(lengths)
    assert len(lens.examples) == len(corpus) and list(lens.examples.length) == lengths
    first = lens.tokens[lens.tokens.layer == 1]
    assert first.entered.all()  # everything enters layer 1
    assert (lens.tokens[lens.tokens.position == 0].kept).all()  # [CLS] always stays
    assert (lens.tokens[~lens.tokens.entered].score.isna()).all()
    assert (lens.tokens[lens.tokens.entered]["rank"] >= 1).all()
    # kept after layer l  <=>  entered layer l + 1
    for layer in range(1, L):
        kept = lens.tokens[lens.tokens.layer == layer].kept.to_numpy()
        entered_next = lens.tokens[lens.tokens.layer == layer + 1].entered.to_numpy()
        np.testing.assert_array_equal(kept, entered_next)


def test_survival_counts_equal_a_hand_count_from_single_runs(tiny_lens, minilm_tokenizer):
    """The batched lens against each example run alone through PrunedBert with the same profile."""
    from accviz.method.profile import EliminationProfile

    model, corpus, lens = tiny_lens
    profile = EliminationProfile(
        **{**lens.card["profile"], "keep_ratios": tuple(lens.card["profile"]["keep_ratios"])}
    )
    L = model.config.num_hidden_layers
    counts = {}
    for text in corpus.texts_a:
        encoded = minilm_tokenizer(text, return_tensors="pt")
        tokens = minilm_tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
        categories = token_categories(tokens)
        with torch.inference_mode():
            out = PrunedBert(model)(
                encoded["input_ids"], encoded["attention_mask"], encoded["token_type_ids"], profile=profile,
                exact_last_layer=False, output_scores=True,
            )  # fmt: skip
        for layer, trace in enumerate(out.traces, start=1):
            for position in trace.kept_positions[0][trace.kept_mask[0]].tolist():
                key = (layer, categories[position])
                counts[key] = counts.get(key, 0) + 1
    from_lens = lens.tokens[lens.tokens.kept].groupby(["layer", "category"], observed=True).size().to_dict()
    assert from_lens == counts
    shares = lenses.survival_by_category(lens.tokens)
    total = lens.tokens[lens.tokens.layer == 1].groupby("category", observed=True).size()
    for (layer, category), n in counts.items():
        assert shares.loc[layer, category] == pytest.approx(n / total[category])
    assert len(shares) == L


def test_jaccard_on_a_constructed_case():
    mask = torch.ones(2, 6, dtype=torch.bool)
    keep = torch.tensor([3, 6])  # row 1 keeps everything: nothing to compare
    a = torch.tensor([[0.0, 0.5, 0.4, 0.1, 0.0, 0.0], [0.1] * 6])
    b = torch.tensor([[0.0, 0.5, 0.0, 0.0, 0.4, 0.1], [0.1] * 6])
    # [CLS] is always kept and left out; A keeps {1, 2}, B keeps {1, 4}: J = 1 / 3
    jaccard = lenses.kept_overlap(a, b, mask, keep)
    assert jaccard[0].item() == pytest.approx(1 / 3) and torch.isnan(jaccard[1])
    assert lenses.kept_overlap(a, a, mask, keep)[0].item() == 1.0


def test_agreement_is_a_share_and_the_two_attention_scores_agree_without_padding(minilm_tokenizer):
    model = tiny_vocab_classifier(seed=2)
    corpus = Corpus(tuple(POSITIVE + NEGATIVE), None, None, "fixture", "0" * 64)
    lens = lenses.run_lens(model, minilm_tokenizer, corpus, SST2, target_speedup=2.5, batch_size=1)
    assert len(lens.agreement) and lens.agreement.jaccard.between(0, 1).all()
    same = lens.agreement[lens.agreement.pair == "attention vs mean-attention"]
    assert len(same) and (same.jaccard == 1.0).all()  # unpadded: PoWER-BERT's and LTP's rankings coincide
    assert (
        lens.examples.gold.isna().all()
        and (lens.examples.effect[lens.examples.flipped] == "no gold label").all()
    )


def test_flips_and_the_other_summaries(tiny_lens):
    _, _, lens = tiny_lens
    examples = lens.examples
    flipped = lenses.flips(examples)
    assert (flipped.unpruned != flipped.pruned).all()
    assert len(flipped) == int((examples.unpruned != examples.pruned).sum())
    for row in flipped.itertuples():
        assert row.effect == (
            "fixed" if row.pruned == row.gold else "broke" if row.unpruned == row.gold else "neither"
        )
    by_length = lenses.metric_by_length(examples, SST2)
    assert by_length.n.sum() == len(examples) and by_length.unchanged.between(0, 1).all()
    words = lenses.word_type_table(lens.tokens, min_count=2)
    assert (words["count"] >= 2).all() and words.reached_last_layer.between(0, 1).all()
    assert "unbelievable" in set(words.word) and "[CLS]" not in set(words.word)
    position = lenses.survival_by_position(lens.tokens)
    assert position.shape[1] == 10 and position.to_numpy().max() <= 1
    summary = lenses.summary(lens, SST2)
    json.dumps(summary)  # JSON-ready, NaN as null
    assert summary["card"]["n_examples"] == 12 and len(summary["flips"]) == len(flipped)


def test_lens_is_cached_verified_and_rebuilt_when_corrupt(tiny_lens, minilm_tokenizer, tmp_path):
    model, corpus, _ = tiny_lens
    kwargs = dict(model_fingerprint="m", target_speedup=2.0, cache_root=tmp_path)
    first, folder, cached = lenses.lens_of(model, minilm_tokenizer, corpus, SST2, **kwargs)
    again, same_folder, cached_again = lenses.lens_of(model, minilm_tokenizer, corpus, SST2, **kwargs)
    assert not cached and cached_again and folder == same_folder
    pd.testing.assert_frame_equal(first.tokens, again.tokens, check_dtype=False, check_categorical=False)
    pd.testing.assert_frame_equal(first.examples, again.examples, check_dtype=False)
    (folder / "tokens.csv").write_text("garbage")
    _, _, cached_after_corruption = lenses.lens_of(model, minilm_tokenizer, corpus, SST2, **kwargs)
    assert not cached_after_corruption
    other, other_folder, _ = lenses.lens_of(
        model, minilm_tokenizer, corpus, SST2, **{**kwargs, "target_speedup": 3.0}
    )
    assert other_folder != folder
    _, unstored, _ = lenses.lens_of(
        model, minilm_tokenizer, corpus, SST2, **{**kwargs, "target_speedup": 3.5}, store=False
    )
    assert not unstored.exists()  # a shared server keeps its visitors' lenses in memory only


def test_corpus_from_a_task_split_has_a_stable_fingerprint(tmp_path):
    from accviz.data.splits import load_split

    from .conftest import write_glue_fixture

    data = load_split(get_task("sst2"), "dev", glue_dir=write_glue_fixture(tmp_path))
    one, two = corpus_from_task_data(data), corpus_from_task_data(data)
    assert one.fingerprint == two.fingerprint and len(one) == len(data) and one.labels == tuple(data.labels)
    assert corpus_from_task_data(data.subset(5)).fingerprint != one.fingerprint


# --- the command line ----------------------------------------------------------------------


def test_cli_corpus_on_a_file_and_bad_files(tmp_path, capsys, minilm_tokenizer, monkeypatch):
    from accviz import cli

    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path / "cache"))
    model_dir = tmp_path / "tiny"
    tiny_vocab_classifier().save_pretrained(model_dir)
    minilm_tokenizer.save_pretrained(model_dir)
    data = tmp_path / "mine.csv"
    data.write_text("text,label\n" + "".join(f'"{t}",{i % 2}\n' for i, t in enumerate(POSITIVE + NEGATIVE)))
    out = tmp_path / "out"
    argv = ["corpus", "--task", "sst2", "--model", str(model_dir), "--input", str(data), "--speedup", "2"]
    assert cli.main([*argv, "--out", str(out), "--min-count", "1"]) == 0
    printed = capsys.readouterr().out
    assert "Share kept after each layer, by category" in printed and "computed:" in printed
    assert {"tokens.csv", "examples.csv", "agreement.csv", "summary.json", "card.json"} <= {
        p.name for p in out.iterdir()
    }
    card = json.loads((out / "card.json").read_text())
    assert card["n_examples"] == 6 and card["target_speedup"] == 2.0 and card["versions"]["torch"]
    assert cli.main(argv) == 0 and "cached:" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_bytes(b"words,label\nhi,1\n")
    assert cli.main([*argv[:-4], "--input", str(tmp_path / "bad.csv")]) == 1
    err = capsys.readouterr().err
    assert "bad.csv: no 'text' column" in err and "Traceback" not in err


def test_lens_figures_show_their_tables(tiny_lens):
    from accviz.figures import lens_plots

    _, _, lens = tiny_lens
    table = lenses.survival_by_category(lens.tokens)
    heat = lens_plots.survival_heatmap(table)
    np.testing.assert_allclose(np.asarray(heat.data[0].z, dtype=float), table.to_numpy(dtype=float))
    assert list(heat.data[0].x) == list(table.columns)
    lines = lens_plots.agreement_lines(lens.agreement)
    assert {t.name for t in lines.data} == set(lens.agreement.pair)
    words = lenses.word_type_table(lens.tokens, min_count=2)
    bars = lens_plots.word_type_bars(words, "eliminated_first", top=3, title="t")
    assert list(bars.data[0].x)[::-1] == list(
        words.nlargest(3, ["eliminated_first", "count"]).eliminated_first
    )
    by_length = lenses.metric_by_length(lens.examples, SST2)
    grouped = lens_plots.length_metric_bars(by_length, "accuracy")
    assert [t.name for t in grouped.data] == ["unpruned", "pruned"]
    position = lens_plots.survival_lines(
        lenses.survival_by_position(lens.tokens), x_title="decile", title="p"
    )
    assert len(position.data) == lens.num_layers


def test_odd_labels_quotes_in_tsv_and_what_the_fingerprint_covers():
    with pytest.raises(DataError, match=r"odd.csv, line 2: label '²' is not one of"):
        read_corpus_file("odd.csv", SST2, content="text,label\nhi,²\n".encode())
    quoted = read_corpus_file("q.tsv", SST2, content=b'text\tlabel\n"a quote\t1\nplain\t0\n')
    assert quoted.texts_a == ('"a quote', "plain")  # GLUE-style TSV: a quote is text
    content = b"text\nsame bytes\n"
    as_table = read_corpus_file("a.csv", SST2, content=content)
    as_lines = read_corpus_file("a.txt", SST2, content=content)
    other_task = read_corpus_file("a.csv", get_task("cola"), content=content)
    assert len({as_table.fingerprint, as_lines.fingerprint, other_task.fingerprint}) == 3
    assert as_lines.texts_a == ("text", "same bytes") and as_table.texts_a == ("same bytes",)
