"""Fine-tuning with elimination active (one process or several, through accelerate)."""
