"""The programme's configuration for partner apps: stores, earn rule versions
(drafts, rules, publication), the value of a point, rewards (``rewards.py``) and
campaigns (``campaigns.py``), through the same services and checks as the
merchant console (scope ``configure``)."""
