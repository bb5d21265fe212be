"""The app's benchmarks in a real browser, one module per mode of ``python -m app.bench_app``:

harness    the server under test, headless chromium, reading a page, the result card
timings    cold start to first render, slider to estimate, Explore re-analysis
load       many sessions at once, each checked against the engine's answer
soak       many distinct long inputs through one server: its memory after each
corpus     the Corpus page: task to figures, a slider step, and back
"""
