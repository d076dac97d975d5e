"""Model files: writing and reading `.sinddm` files, checks, and opening what the user gave."""
