"""Rewards: the partner catalogue and the coalition catalogue, vouchers, points payments."""
