"""Earning outside receipts: behavioural events and referrals."""
