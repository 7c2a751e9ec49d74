"""Settlement through Stripe: ``gateway`` pays statements and reconciles them,
``events`` receives Stripe's webhooks and moves statements' payment status."""
