"""The README and docs/ link only to files the checkout has, and name only make targets the Makefile defines."""

import re

from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_relative_link_of_the_readme_and_docs_reaches_a_file():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken


def test_every_make_target_the_readme_and_docs_name_exists():
    makefile = (REPO / "Makefile").read_text()
    defined = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = {name for page in PAGES for name in re.findall(r"`make ([a-z][a-z-]*)", page.read_text())}
    assert named and named <= defined, sorted(named - defined)
