"""Optional integrations (W&B, TensorBoard); each imports its package only when used."""
