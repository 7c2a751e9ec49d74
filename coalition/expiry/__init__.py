"""The coalition's points expiry policy, the periodic expiry job and reminders."""
