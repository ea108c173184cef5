"""`aegan tune`: hyper-parameter search on Optuna (study.py), its objectives (objectives.py) and
the study's report (report.py)."""
