"""Pages and API of notices, routed by notices/urls.py: review.py (the review queues and a notice),
desk.py (feedback, follow-ups, templates, rules, evaluation), public.py (the person's page, the board,
the inbound SMS webhook), api.py (the staff API)."""
