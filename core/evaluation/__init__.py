"""Quality metrics and the evaluation report."""
