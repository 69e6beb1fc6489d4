"""Click-to-dial: a rep clicks Call in Outreach; the Chrome extension or the `tel:` handler posts
the dial to `POST /api/v1/dial`, and Callbridge records the call under Outreach's call id and
asks the organisation's outbound provider connection to place it (README "Click-to-dial")."""
