"""Regenerate the pictures of the README and docs/ from the code printed above them.

Run from anywhere: ``python docs/make_images.py`` (needs ``gdlearn[plot]``).

Each Markdown file (README.md, docs/*.md) is read in order; its ```python blocks run one after another in one
namespace (as a reader would run them), in a scratch directory. An image ``![...](.../images/NAME.png)`` that
follows a block is the figure that block drew: the k-th image after a block is the k-th new figure it made, saved
at 100 dpi (as the ``save_*`` functions do) to docs/images/NAME.png. A block followed by images must draw exactly
that many figures, so that a picture cannot drift from the code printed above it.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_TOKEN = re.compile(r"^```python\n(?P<code>.*?)^```|!\[[^\]]*\]\((?P<image>[^)]*images/[^)]+\.png)\)", re.S | re.M)


def plan(path: Path) -> list[tuple[str, list[str]]]:
    """The python blocks of one Markdown file in order, each with the names of the images that follow it."""
    steps: list[tuple[str, list[str]]] = []
    for m in _TOKEN.finditer(path.read_text(encoding="utf-8")):
        if m.group("code") is not None:
            steps.append((m.group("code"), []))
        elif steps:
            steps[-1][1].append(Path(m.group("image")).name)
        else:
            raise ValueError(f"{path.name}: the image {m.group('image')} has no code above it.")
    return steps


def make(path: Path, out: Path = IMAGES) -> list[Path]:
    """Run the blocks of ``path`` and save the figures of those followed by images; return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = plan(path)
    written: list[Path] = []
    if not any(images for _, images in steps):
        return written
    namespace: dict = {}
    for i, (code, images) in enumerate(steps):
        before = set(plt.get_fignums())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some examples stop at max_iter on purpose
            exec(compile(code, f"{path.name}, python block {i + 1}", "exec"), namespace)  # noqa: S102 - our docs
        new = [n for n in plt.get_fignums() if n not in before]
        if images and len(images) != len(new):
            raise ValueError(
                f"{path.name}, python block {i + 1}: {len(images)} image(s) follow it ({', '.join(images)}) "
                f"but it draws {len(new)} figure(s)."
            )
        for name, number in zip(images, new):
            target = out / name
            plt.figure(number).savefig(target, dpi=100)
            written.append(target)
        plt.close("all")
    return written


def main() -> int:
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        for folder in ("examples",):  # the docs' examples read these by relative path
            os.symlink(ROOT / folder, Path(scratch) / folder)
        os.chdir(scratch)
        try:
            for path in DOCS:
                for target in make(path):
                    print(f"wrote {target.relative_to(ROOT)}  (from {path.relative_to(ROOT)})")
        finally:
            os.chdir(cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
