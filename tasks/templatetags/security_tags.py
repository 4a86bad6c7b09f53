"""`{% watermark %}`: the tiled watermark of the viewer (tasks/watermark.py), server-rendered text
styled by static/css/security.css — no inline style or script, so it works under the strict CSP."""

from django import template
from django.template.loader import render_to_string

from ..watermark import TILES, watermark_text

register = template.Library()


@register.simple_tag(takes_context=True)
def watermark(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return render_to_string("security/watermark.html", {"text": watermark_text(user), "tiles": range(TILES)})
