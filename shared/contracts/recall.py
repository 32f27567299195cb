"""Events of recall alerts and campaigns, published by resolution."""
