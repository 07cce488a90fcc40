"""Experiments: recipes that mirror the papers' tables, a resumable runner and HTML reports."""

import textsmooth._extras as _extras

for _module in ("torch", "yaml"):  # recipes are YAML; every run trains a torch model
    if not _extras.installed(_module):
        raise _extras.missing(_module, extra="experiments", feature="textsmooth.experiments")
