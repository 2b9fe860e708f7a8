"""Evaluation tier: faithfulness metrics, summary tables, noise robustness, attention."""
