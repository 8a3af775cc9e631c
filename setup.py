"""Packages by discovery: every folder under reporter/, and every folder under themes/.

The themes live at the top of the repository (themes/) and install as `reporter.themes`, so
`importlib.resources` finds them in a wheel and in an editable checkout alike. Theme folders
are data (namespace packages to setuptools), listed by discovery too, so nothing can drift.
Everything else about the project is in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

THEMES = ["reporter.themes", *(f"reporter.themes.{p}" for p in find_namespace_packages("themes"))]

setup(
    packages=[*find_packages(include=["reporter", "reporter.*"]), *THEMES],
    package_dir={"reporter.themes": "themes"},
    package_data={"reporter": ["py.typed"], **{theme: ["*"] for theme in THEMES}},
)
