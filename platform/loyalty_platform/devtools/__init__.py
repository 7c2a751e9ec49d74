"""Development tools of the shell (the local Stripe-compatible fake): used by the
demo and the tests, never imported by domain code."""
