"""Experiments: recipes that mirror the papers' tables, a resumable runner and HTML reports."""
