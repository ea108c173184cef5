"""Kinds of run, each in its own file (autoencoder.py, gan.py, classifier.py), what they have in
common (base.py), the fit recipe they share (recipe.py) and their registry (registry.py: load,
fit, TASKS). See docs/architecture.md. Import from the modules: this file imports nothing, so
that a module may use one kind (evaluation.py: the classifier) without loading them all."""
