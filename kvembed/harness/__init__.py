"""The experiment harness: the Hydra config schema, the runner, result files, W&B tracking and experiment
expansion. Imports the core library and ``kvembed.eval``; nothing of the report."""
