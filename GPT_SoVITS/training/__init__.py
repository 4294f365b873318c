"""Few-shot fine-tuning: dataset preparation, the SoVITS (s2) and GPT (s1) trainers, export."""
