"""The member portal on the coalition's public host (``/portal/``).

Members are not Django users: a portal session names a member (``access``), never
an auth user, so a staff or operator login on the same host is never a member and a
member session never opens the admin.
"""
