from django.utils.text import slugify


def unique_live_slug(name: str, *, taken) -> str:
    """slugify(name), suffixed -2, -3, ... until `taken(slug)` is False."""
    base = slugify(name)[:200] or "project"
    slug, n = base, 1
    while taken(slug):
        n += 1
        slug = f"{base}-{n}"
    return slug
