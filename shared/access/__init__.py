"""Who is asking and what they may do: verified identity (JWT), the one permission policy, data scope."""
