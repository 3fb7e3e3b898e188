"""Every ```python block of the user pages (docs/*.md) runs as written.

Each block runs in a fresh namespace and asserts its own results; a page
that has lost its Python example fails too.
"""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
BLOCKS = [
    pytest.param(page, n, block, id=f"{page.stem}-{n}")
    for page in PAGES
    for n, block in enumerate(re.findall(r"^```python\n(.*?)^```$", page.read_text(), re.S | re.M), 1)
]


def test_every_page_has_a_python_example():
    assert PAGES, f"no pages in {DOCS}"
    with_python = {page for page, _, _ in (p.values for p in BLOCKS)}
    assert with_python == set(PAGES), sorted(p.name for p in set(PAGES) - with_python)


@pytest.mark.parametrize("page, n, block", BLOCKS)
def test_docs_python_block_runs(page, n, block):
    exec(compile(block, f"{page.name} (python block {n})", "exec"), {"__name__": f"docs_{page.stem}_{n}"})
