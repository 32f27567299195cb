"""Events of returns and exchanges (RMA), published by resolution."""
