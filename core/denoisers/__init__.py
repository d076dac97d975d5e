"""The denoisers the sampler draws from: protocol, trained network, Instant, refiner."""
