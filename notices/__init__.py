"""Notices to people (弹窗): generation, two-level review, timed push, acknowledgement, reminder,
follow-up, feedback, display board and evaluation. Built on `reviews` (disposal proposals) and `tasks`;
neither of them imports this app."""
