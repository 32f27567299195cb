"""Ombud services: intake, routing, resolution, feedback; and the embedded system that runs them."""
