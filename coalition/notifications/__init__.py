"""E-mail notifications to members: what each member switched off, the outbox
that makes every notification go at most once, rendering in the member's
language with an unsubscribe link that works without signing in, and the daily
points-earned digest. Other apps send through ``services.notification_send``."""
