""" "Whoever checks is responsible": the database itself refuses to change or delete a decided review
and the disposal decided with it.

* reviews_review: UPDATE or DELETE of a row whose state is `decided` or `withdrawn` raises.
* reviews_disposalproposal, reviews_riskareadesignation: rows may only be inserted while their review
  is still open (the approval writes them before it marks the review decided); UPDATE and DELETE raise.

A retention purge (DESIGN "data is purged when its retention ends") opts out for its own transaction
with `SET LOCAL reviews.allow_purge = 'on'`; deletes only, never updates. TRUNCATE (the test suite's
flush) does not fire row triggers.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION reviews_refuse_decided_review() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state IN ('decided', 'withdrawn') THEN
        IF TG_OP = 'DELETE' AND current_setting('reviews.allow_purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'review % is %: it cannot be changed; a later change needs a new review', OLD.id, OLD.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reviews_review_immutable_when_decided
    BEFORE UPDATE OR DELETE ON reviews_review
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_decided_review();

CREATE FUNCTION reviews_refuse_disposal_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    review_state varchar;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF TG_TABLE_NAME = 'reviews_disposalproposal' THEN
            SELECT state INTO review_state FROM reviews_review WHERE id = NEW.review_id;
        ELSE
            SELECT r.state INTO review_state FROM reviews_review r
                JOIN reviews_disposalproposal p ON p.review_id = r.id WHERE p.id = NEW.proposal_id;
        END IF;
        IF review_state NOT IN ('pending', 'claimed') THEN
            RAISE EXCEPTION 'the review is %: its disposal cannot be changed', review_state
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND current_setting('reviews.allow_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'a disposal proposal is part of a decision: it cannot be changed; a later change needs a new review'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER reviews_disposal_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON reviews_disposalproposal
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_disposal_change();

CREATE TRIGGER reviews_risk_area_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON reviews_riskareadesignation
    FOR EACH ROW EXECUTE FUNCTION reviews_refuse_disposal_change();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS reviews_risk_area_immutable ON reviews_riskareadesignation;
DROP TRIGGER IF EXISTS reviews_disposal_immutable ON reviews_disposalproposal;
DROP FUNCTION IF EXISTS reviews_refuse_disposal_change();
DROP TRIGGER IF EXISTS reviews_review_immutable_when_decided ON reviews_review;
DROP FUNCTION IF EXISTS reviews_refuse_decided_review();
"""


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_review_comment_finding_disposal")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
