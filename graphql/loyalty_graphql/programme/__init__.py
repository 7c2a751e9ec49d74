"""The programme's configuration for partner apps: stores, earn rule versions
(drafts, rules, publication) and the value of a point, through the same services
and checks as the merchant console (scope ``configure``)."""
