"""Delivering customer messages: channel adapters (SMTP, webhook) and the message templates."""
