"""Fine-tuning the generators: data assembly with augmentation, the CPU base model, TRL LoRA SFT, merging."""
