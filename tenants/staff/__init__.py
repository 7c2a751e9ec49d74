"""Partner staff: who may work in a partner's merchant console, with which role.

A staff member is a Django user with a membership per partner (owner, manager,
cashier, analyst). Owners invite staff by e-mail with a single-use, expiring
link. Log-in attempts are counted per partner and address, so repeated wrong
passwords lock the address out for a while with a clear message. The tables live
in the public schema: one person may work for several partners.
"""
