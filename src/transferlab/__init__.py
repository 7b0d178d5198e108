"""transferlab: measure whether, from which source and how to transfer a pretrained model."""

__version__ = "0.1.0"
