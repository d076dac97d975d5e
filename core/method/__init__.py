"""The math every part shares: noise schedule, image pyramids, canvas constraints."""
