"""Webhook endpoint management for partner apps."""
