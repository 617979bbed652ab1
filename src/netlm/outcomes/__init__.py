"""Learning from the registry: survival, dose-response, toxicity over time, published evidence."""
