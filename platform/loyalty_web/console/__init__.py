"""The merchant console: partner staff run their programme on their partner's host.

Pages check the signed-in user's role at this partner on every request
(``access.staff_page``); a session belongs to the host it was opened on, so a
session from one partner's host is useless on another's.
"""
