"""Classification soft-label generators (scikit-learn estimator API) and label flipping."""
