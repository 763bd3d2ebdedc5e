"""The result store: result files read and written by their columns (damaged files set aside, per-task locks),
each row's identity (the fingerprint of what the code computes) and the study's selection of rows. Below the
harness, so reading results needs neither Hydra, W&B nor submitit (``pip install kvembed[report]``)."""
