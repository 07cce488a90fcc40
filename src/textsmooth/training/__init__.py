"""Training: a small trainer loop with every smoothing method, and Hugging Face Trainer integration."""
