from django import template

register = template.Library()


@register.filter
def get(mapping, key):
    """`mapping|get:key` for dict keys a template cannot spell (work-type codes)."""
    return (mapping or {}).get(key) or {}
