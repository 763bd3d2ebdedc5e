"""The paper report: tables, the ablation report, figure data and analyses, read from ``results/``."""
