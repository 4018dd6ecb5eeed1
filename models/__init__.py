"""Training scripts for the book's two models and their committed artifacts (models/logreg, models/keras)."""
