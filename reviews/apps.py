from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reviews"
    verbose_name = _("Expert review")

    def ready(self):
        from auditlog.registry import auditlog
        from django.db.models.signals import post_save

        from tasks.models import TaskTransition

        from . import signals
        from .models import DisposalProposal, Review, ReviewComment, RiskAreaDesignation

        auditlog.register(Review)
        auditlog.register(ReviewComment)
        auditlog.register(DisposalProposal)
        auditlog.register(RiskAreaDesignation)

        # tasks/ must not import reviews/ (reports → reviews → tasks): the review queue entry is opened
        # by listening to the history row the workflow writes for every move.
        post_save.connect(
            signals.on_task_transition, sender=TaskTransition, dispatch_uid="reviews.on_task_transition"
        )

        # The field team sees why its work came back, and the comments beside each entry.
        from tasks import hooks

        from .selectors import comments_for_field, latest_return_reasons

        hooks.provide_review_feedback(
            return_reasons=latest_return_reasons, review_comments=comments_for_field
        )

        # Personal data for the retention purge and key rotation of the base app (tasks/lifecycle.py).
        from . import lifecycle

        lifecycle.register()
