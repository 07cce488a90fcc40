"""Reading data sets and writing artifacts (atomic, with manifests)."""
