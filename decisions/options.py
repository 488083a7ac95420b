"""The shape of a decision's options and tags, checked the same way by the API, forms and services."""

from django.core.exceptions import ValidationError

OPTION_KEYS = {"id", "label", "description", "pros", "cons"}


def _text(value, what: str, *, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string.")
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain NUL characters.")
    if len(value) > max_length:
        raise ValidationError(f"{what} must be at most {max_length} characters.")
    return value


def _text_list(value, what: str) -> list[str]:
    if not isinstance(value, list):
        raise ValidationError(f"{what} must be a list of strings.")
    return [_text(item, f"each of {what}", max_length=1000) for item in value]


def clean_options(value) -> list[dict]:
    """A list of {id, label, description?, pros?[], cons?[]} with unique, non-empty ids."""
    if not isinstance(value, list):
        raise ValidationError("Options must be a list of objects.")
    if len(value) > 50:
        raise ValidationError("A decision has at most 50 options.")
    cleaned, seen = [], set()
    for index, option in enumerate(value):
        where = f"Option {index + 1}"
        if not isinstance(option, dict):
            raise ValidationError(f"{where} must be an object with 'id' and 'label'.")
        unknown = set(option) - OPTION_KEYS
        if unknown:
            raise ValidationError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
        option_id = _text(option.get("id"), f"{where} id", max_length=50).strip()
        label = _text(option.get("label"), f"{where} label", max_length=200).strip()
        if not option_id or not label:
            raise ValidationError(f"{where} needs a non-empty id and label.")
        if option_id in seen:
            raise ValidationError(f"Option ids must be unique; '{option_id}' appears twice.")
        seen.add(option_id)
        entry = {"id": option_id, "label": label}
        if option.get("description") not in (None, ""):
            entry["description"] = _text(option["description"], f"{where} description", max_length=5000)
        for key in ("pros", "cons"):
            if option.get(key) is not None:
                entry[key] = _text_list(option[key], f"{where} {key}")
        cleaned.append(entry)
    return cleaned


def clean_tags(value) -> list[str]:
    if not isinstance(value, list):
        raise ValidationError("Tags must be a list of strings.")
    tags = [_text(tag, "Each tag", max_length=50).strip() for tag in value]
    if any(not tag for tag in tags):
        raise ValidationError("Tags must not be empty.")
    return list(dict.fromkeys(tags))
