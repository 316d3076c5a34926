"""The synthetic BIRD-format benchmark: hand-designed domains, variants and question templates."""
