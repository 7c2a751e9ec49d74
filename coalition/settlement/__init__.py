"""Settlement between partners: terms, periods closed at ledger watermarks,
statements, multilateral netting, liability, and payment through Stripe."""
