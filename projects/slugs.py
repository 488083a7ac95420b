from django.utils.text import slugify


def base_slug(name: str) -> str:
    return slugify(name)[:200] or "project"


def unique_live_slug(name: str, *, taken) -> str:
    """base_slug(name), suffixed -2, -3, ... until `taken(slug)` is False."""
    base = base_slug(name)
    slug, n = base, 1
    while taken(slug):
        n += 1
        slug = f"{base}-{n}"
    return slug
