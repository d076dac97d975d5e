"""Training a network on one photo, and the named presets."""
