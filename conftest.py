"""pytest, for the whole repository: the notebooks' kernels (nbval) import the book's ``config``."""

import os
from pathlib import Path

BOOK = str(Path(__file__).resolve().parent / "book")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (BOOK, os.environ.get("PYTHONPATH")) if p)
