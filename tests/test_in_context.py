"""In-context learning: prompt building, label scoring against a direct forward pass, the endpoint path
against a local OpenAI-compatible server, and the one-line errors. The model is a small randomly
initialised GPT-2 built from a config (no causal LM installs here)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tiny_models import tiny_gpt2
from transferlab.errors import InputError
from transferlab.strategies import Examples, create_strategy
from transferlab.strategies.frozen import softmax
from transferlab.strategies.in_context import build_prompt, choose_demonstrations, shorten
from transferlab.strategies.lm_local import LocalCausalLM, direct_scores, load_causal_lm

CLASSES = ("business", "politics", "sport")
TRAIN = Examples(
    ["shares fell at the bank", "the minister said", "the striker scored", "profits grew", "the vote passed"],
    np.array([0, 1, 2, 0, 1]),
    CLASSES,
)
QUERIES = ["the cup final", "election bill passed", "bank profits fell"]


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory) -> str:
    return str(tiny_gpt2(tmp_path_factory.mktemp("gpt2")))


def test_prompt_layout_and_demonstrations():
    prompt = build_prompt([("a b", "sport"), ("c", "politics")], "q", "Classify.", "Input: ", "Label:")
    assert prompt == "Classify.\n\nInput: a b\nLabel: sport\n\nInput: c\nLabel: politics\n\nInput: q\nLabel:"
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    chosen = choose_demonstrations(labels, 3, np.random.default_rng(0))
    assert sorted(labels[chosen].tolist()) == [0, 1, 2]  # one per class before any class gets a second
    assert len(set(choose_demonstrations(labels, 10, np.random.default_rng(0)).tolist())) == 7  # all, no repeats
    assert np.array_equal(chosen, choose_demonstrations(labels, 3, np.random.default_rng(0)))
    assert shorten("one  two\nthree four", 12) == "one two"


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_cached_scoring_equals_a_direct_forward_pass(gpt2, batch_size):
    strategy = create_strategy("in-context", model=gpt2, k=4, random_state=1).fit(TRAIN)
    contexts = [strategy.prompt(q) for q in QUERIES]
    labels = [" business", " politics", " sport", " sport politics"]  # one label of several tokens
    fast, counts = LocalCausalLM(gpt2, batch_size).score(contexts, labels)
    reference = direct_scores(gpt2, contexts, labels)
    np.testing.assert_allclose(fast, reference, atol=1e-4)
    assert counts[0, 3] > counts[0, 2] and (counts >= 1).all()
    # and the reference itself: the label's token log-probabilities read off one forward pass by hand
    model, tokenizer = load_causal_lm(gpt2)
    ctx, label = tokenizer(contexts[0])["input_ids"], tokenizer(" sport", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ctx + label])).logits[0], -1)
    by_hand = sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(label))
    assert reference[0, 2] == pytest.approx(by_hand, abs=1e-5)


@pytest.mark.parametrize(("score", "calibrate"), [("sum", False), ("mean", False), ("sum", True)])
def test_probabilities_are_the_softmax_of_the_label_scores(gpt2, score, calibrate):
    strategy = create_strategy("in-context", model=gpt2, k=2, score=score, calibrate=calibrate, random_state=0)
    proba = strategy.fit(TRAIN).predict_proba(QUERIES)
    labels = [" business", " politics", " sport"]
    scores = direct_scores(gpt2, [strategy.prompt(q) for q in QUERIES], labels)
    if score == "mean":
        _, tokenizer = load_causal_lm(gpt2)
        scores = scores / np.array([len(tokenizer(x, add_special_tokens=False)["input_ids"]) for x in labels])
    if calibrate:
        scores = scores - direct_scores(gpt2, [strategy.prompt("N/A")], labels)[0]
    np.testing.assert_allclose(proba, softmax(scores), atol=1e-5)
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1.0)


class _Completions(BaseHTTPRequestHandler):
    """An OpenAI-compatible completions server over the tiny GPT-2: echo + prompt log-probabilities."""

    folder = ""
    echo = True

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        self._send({"data": [{"id": "tiny-gpt2"}]})

    def do_POST(self) -> None:  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send({"choices": [self._choice(i, p) for i, p in enumerate(request["prompt"])]})

    def _choice(self, index: int, prompt: str) -> dict:
        model, tokenizer = load_causal_lm(self.folder)
        encoded = tokenizer(prompt, return_offsets_mapping=True)  # the server tokenises the whole prompt
        ids = encoded["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], -1)
        values = [None] + [float(logp[t - 1, ids[t]]) for t in range(1, len(ids))]
        offsets = [start for start, _ in encoded["offset_mapping"]]
        logprobs = {"tokens": [tokenizer.decode([i]) for i in ids], "token_logprobs": values, "text_offset": offsets}
        if not self.echo:  # as llama.cpp's server answers: the generated token only
            logprobs = {"tokens": ["x"], "token_logprobs": [-1.0], "text_offset": [len(prompt)]}
        return {"index": index, "text": prompt + "x", "logprobs": logprobs}


@pytest.fixture()
def server(gpt2):
    handler = type("Handler", (_Completions,), {"folder": gpt2, "echo": True})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, handler
    httpd.shutdown()


def test_endpoint_scores_equal_the_local_model(gpt2, server):
    httpd, _ = server
    endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    remote = create_strategy("in-context", endpoint=endpoint, model="tiny-gpt2", k=3, batch_size=5, random_state=2)
    local = create_strategy("in-context", model=gpt2, k=3, random_state=2)
    np.testing.assert_allclose(
        remote.fit(TRAIN).predict_proba(QUERIES), local.fit(TRAIN).predict_proba(QUERIES), atol=1e-5
    )


def test_endpoint_without_prompt_logprobs_is_refused(server):
    httpd, handler = server
    handler.echo = False
    strategy = create_strategy("in-context", endpoint=f"http://127.0.0.1:{httpd.server_address[1]}", model="m")
    with pytest.raises(InputError, match="no log-probabilities for the prompt tokens; it needs /v1/completions"):
        strategy.fit(TRAIN).predict_proba(QUERIES[:1])


def test_bad_input_is_one_line(tmp_path, gpt2):
    with pytest.raises(InputError, match="in-context needs `model`"):
        create_strategy("in-context").fit(TRAIN)
    with pytest.raises(InputError, match="endpoint http://127.0.0.1:9/v1/models is unreachable"):
        create_strategy("in-context", endpoint="http://127.0.0.1:9", model="m", timeout=2.0).check()
    with pytest.raises(InputError, match="does not exist"):
        create_strategy("in-context", model=str(tmp_path / "nope")).check()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_text(Path(gpt2, "config.json").read_text())
    with pytest.raises(InputError, match=r"no \*.safetensors weights"):
        create_strategy("in-context", model=str(tmp_path / "bin")).check()
    from transferlab.sources.zoo_text import minilm_l6_path

    with pytest.raises(InputError, match="'bert' model, not a causal language model"):
        create_strategy("in-context", model=str(minilm_l6_path())).check()
    with pytest.raises(InputError, match="parameter 'score' must be 'sum' or 'mean'"):
        create_strategy("in-context", model=gpt2, score="max").check()


def test_in_context_study_runs_and_an_unreachable_endpoint_stops_it(tmp_path, gpt2, text_csv):
    spec = {
        "name": "icl",
        "task": {"dataset": text_csv, "test_size": 0.2, "max_examples": 45},
        "sources": ["minilm-l3"],
        "strategies": [{"name": "in-context", "model": gpt2, "k": 3, "max_chars": 60}],
        "baselines": ["tfidf-logreg"],
        "budgets": [6],
        "seeds": 1,
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", "run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    entry = next(e for e in summary["entries"] if e["strategy_name"] == "in-context")
    assert entry["source"] == "none" and "tfidf-logreg" in entry["gains"]
    spec["strategies"] = [{"name": "in-context", "endpoint": "http://127.0.0.1:9", "model": "m", "timeout": 2}]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", "run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "other")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "endpoint http://127.0.0.1:9/v1/models is unreachable" in proc.stderr
    assert not (tmp_path / "other").exists()
