"""Template filters applying tasks/masking.py: `{{ value|masked_id:unmasked }}` where `unmasked` is the
viewer's sees_unmasked() flag put in the context by the view."""

from django import template

from .. import masking

register = template.Library()


@register.filter
def masked_id(value, unmasked):
    return value if unmasked else masking.mask_id_number(value or "")


@register.filter
def masked_phone(value, unmasked):
    return value if unmasked else masking.mask_phone(value or "")


@register.filter
def masked_name(value, unmasked):
    return value if unmasked else masking.mask_name(value or "")
