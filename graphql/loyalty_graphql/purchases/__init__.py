"""Purchases: receipts in, points out; previews and returns."""
