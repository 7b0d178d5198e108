"""Zero-shot across modalities: DeViSE (Frome et al. 2013) from an image source and a text encoder.

A linear map ``W`` takes an image's (standardised) features into a text encoder's embedding space,
trained so that each image lies closer to its class name's embedding than to any other *seen*
class name by a margin (the paper's hinge rank loss). An image is then classified by the nearest
class-name embedding, which works for classes never seen in training as long as their names
are embedded: with ``unseen_classes`` in the study spec the budget holds seen classes only, and
the report gives seen and unseen accuracy (:mod:`transferlab.analysis.zero_shot`).

``devise-random-text`` is its control (a baseline): the same map, loss and training, but every
class-name embedding is replaced by a random direction of the same dimension and norm. It fits
seen classes as well as ``devise`` does, so any advantage on unseen classes is what the text
encoder's semantic space carries across modalities, and nothing else.

Class names must be words the text encoder knows: digits' classes are "0".."9", so a study gives
``class_names: {"0": zero, "1": one, ...}``; a name without a letter is refused before any cell runs.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError, bad_parameter, unknown_name
from transferlab.strategies.base import Examples, Strategy, check_int_range, check_positive, register_strategy
from transferlab.strategies.frozen import l2_normalise, softmax

if TYPE_CHECKING:  # torch is imported where the map trains: listing strategies must not load it
    import torch

WORD = re.compile(r"[^\W\d_]")  # a letter of any script


def hinge_rank_loss(projected: torch.Tensor, text: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """DeViSE's loss: mean over images of ``sum_j max(0, margin - t_y . Mv + t_j . Mv)``, j != y.

    projected (B, p): the mapped images ``Mv``; text (S, p): unit class-name embeddings of the
    seen classes; labels (B,): each image's row in ``text``.
    """
    scores = projected @ text.T  # (B, S)
    true = scores.gather(1, labels[:, None])  # (B, 1)
    violations = (margin - true + scores).clamp(min=0.0)  # (B, S); the true class itself gives `margin`
    return (violations.sum(dim=1) - margin).mean()


@functools.lru_cache(maxsize=16)
def class_name_embeddings(encoder: str, names: tuple[str, ...]) -> np.ndarray:
    """Unit-length embeddings ``(C, p)`` of ``names`` by the text source ``encoder`` (once per process)."""
    from transferlab.sources import create_source

    source = create_source(encoder)
    if source.modality != "text":
        raise InputError(f"devise: text_encoder {encoder!r} embeds {source.modality} inputs; give a text encoder")
    embeddings = l2_normalise(np.asarray(source.embed(list(names)), dtype=np.float64))
    embeddings.setflags(write=False)
    return embeddings


def random_like(embeddings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random directions with the rows' dimension and norms: the control's class 'names'."""
    directions = l2_normalise(rng.normal(size=embeddings.shape))  # (C, p)
    return directions * np.linalg.norm(embeddings, axis=1, keepdims=True)


@register_strategy("devise")
class DeViSE(Strategy):
    """A linear map from image features into a text encoder's space; nearest class name wins."""

    modalities = ("image",)
    modality_required = True

    def __init__(
        self,
        text_encoder: str = "minilm-l6",
        template: str = "{label}",
        class_names: dict[str, str] | None = None,
        margin: float = 0.1,
        lr: float = 0.01,
        weight_decay: float = 1e-3,
        steps: int = 300,
        temperature: float = 0.05,
        random_state: int | None = None,
    ):
        self.text_encoder = text_encoder
        self.template = template
        self.class_names = class_names
        self.margin = margin
        self.lr = lr
        self.weight_decay = weight_decay
        self.steps = steps
        self.temperature = temperature
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        from transferlab.sources import SOURCES, load_builtin_sources

        check_positive(self.name, margin=self.margin, lr=self.lr, temperature=self.temperature)
        check_int_range(self.name, "steps", self.steps, 1, 100_000)
        if not isinstance(self.weight_decay, int | float) or self.weight_decay < 0:
            raise bad_parameter(self.name, "weight_decay", self.weight_decay, "a number >= 0")
        if not isinstance(self.template, str) or "{label}" not in self.template:
            raise bad_parameter(self.name, "template", self.template, "a text containing {label}, e.g. 'a {label}'")
        if self.class_names is not None and not isinstance(self.class_names, dict):
            raise bad_parameter(self.name, "class_names", self.class_names, "a mapping {class: name}")
        load_builtin_sources()
        if not isinstance(self.text_encoder, str) or not SOURCES.is_known(self.text_encoder):
            raise unknown_name("source", str(self.text_encoder), SOURCES.names())
        if source is not None and getattr(source, "modality", None) != "image":
            raise InputError(
                f"{self.name} maps image features into a text space; source {source.name!r} embeds"
                f" {source.modality} inputs: use an image source (efficientnet-lite0, hf:<vision model>)"
            )

    def check_classes(self, classes: tuple[str, ...]) -> None:
        mapping = {str(k): str(v) for k, v in (self.class_names or {}).items()}
        extra = sorted(set(mapping) - set(classes))
        if extra:
            raise InputError(
                f"{self.name}: class_names names class {extra[0]!r}, which the task does not have;"
                f" its classes: {', '.join(classes)}"
            )
        bare = [c for c in classes if not WORD.search(mapping.get(c, c))]
        if bare:
            raise InputError(
                f"{self.name}: class {bare[0]!r} has no name a text encoder can embed (digits and codes carry no"
                f" meaning for it); map the classes to words with class_names, e.g. {{'{bare[0]}': 'zero'}}"
            )

    def class_texts(self, classes: tuple[str, ...]) -> tuple[str, ...]:
        """The texts embedded for ``classes``: each class's name in ``template``."""
        mapping = {str(k): str(v) for k, v in (self.class_names or {}).items()}
        return tuple(self.template.format(label=mapping.get(c, c).replace("_", " ")) for c in classes)

    def text_space(self, classes: tuple[str, ...]) -> np.ndarray:
        """Unit class embeddings ``(C, p)``: the text encoder's (here) or random ones (the control)."""
        return class_name_embeddings(self.text_encoder, self.class_texts(classes))

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> DeViSE:
        self.check(source)
        self.check_classes(train.classes)
        X, y = np.asarray(train.inputs, dtype=np.float64), np.asarray(train.labels)
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0) + 1e-6
        self.text_ = np.asarray(self.text_space(train.classes), dtype=np.float64)  # (C, p)
        self.seen_ = np.unique(y)
        self.W_, self.train_stats_ = self._train((X - self.mean_) / self.scale_, np.searchsorted(self.seen_, y))
        return self

    def _train(self, X: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Full-batch Adam on the hinge rank loss plus L2 on the map; ``rows`` index ``seen_``.

        The map is learned in the row space of the training features, ``W = V B`` with ``X = U S V^T``:
        the loss sees ``W`` only through ``X W = (X V) B`` and ``||W|| = ||B||``, so the penalised
        optimum lies there (the representer theorem) and nothing is lost, while each step costs
        n x n x p instead of n x d x p (21x less at 60 examples of 1280-d EfficientNet features).
        """
        import torch

        _, _, Vt = np.linalg.svd(X, full_matrices=False)  # X: (n, d); Vt: (r, d), r <= n
        torch.manual_seed(int(self.random_state or 0) % 2**32)
        coords = torch.as_tensor(X @ Vt.T, dtype=torch.float32)  # (n, r): X in a basis of its row space
        labels, text = torch.as_tensor(rows), torch.as_tensor(self.text_[self.seen_], dtype=torch.float32)  # (S, p)
        B = torch.nn.Parameter(torch.randn(coords.shape[1], text.shape[1]) * 0.01)  # (r, p)
        optimiser = torch.optim.Adam([B], lr=self.lr, weight_decay=self.weight_decay)
        losses, threads = [], torch.get_num_threads()
        # steps of a few MFLOP gain nothing from a second thread, and on a busy machine the threads'
        # synchronisation made them 20x slower (3.5 s against 75 s for 300 steps, load 12 on 2 cores)
        torch.set_num_threads(1)
        try:
            for _ in range(int(self.steps)):
                loss = hinge_rank_loss(coords @ B, text, labels, float(self.margin))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(float(loss.detach()))
        finally:
            torch.set_num_threads(threads)
        k = max(1, len(losses) // 10)
        stats = {"first_loss": float(np.mean(losses[:k])), "final_loss": float(np.mean(losses[-k:]))}
        W = Vt.T @ B.detach().numpy().astype(np.float64)  # (d, p)
        return W, stats | {"nan_loss": float(not np.isfinite(losses).all())}

    def predict_proba(self, inputs: Any) -> np.ndarray:
        projected = l2_normalise(((np.asarray(inputs, dtype=np.float64) - self.mean_) / self.scale_) @ self.W_)
        return softmax(projected @ l2_normalise(self.text_).T / self.temperature)  # (n, C) cosine to names

    def trainable_parameters(self) -> int:
        return int(self.W_.size) if hasattr(self, "W_") else 0


@register_strategy("devise-random-text")
class RandomTextDeViSE(DeViSE):
    """DeViSE's control: class-name embeddings replaced by random vectors of the same dimension and norm."""

    is_baseline = True

    def check_classes(self, classes: tuple[str, ...]) -> None:
        """The control embeds no names, so any class names do."""

    def text_space(self, classes: tuple[str, ...]) -> np.ndarray:
        # the real embeddings only lend their shape and norms (unit): the control must differ in
        # nothing but where the classes sit
        real = class_name_embeddings(self.text_encoder, tuple(f"class {c}" for c in classes))
        return random_like(real, np.random.default_rng(self.random_state))
