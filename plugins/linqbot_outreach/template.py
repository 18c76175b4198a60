"""The message template: ``str.format`` fields (``{first_name}``) or ``string.Template`` ones (``$first_name``)."""

from __future__ import annotations

import string
from typing import Literal

TemplateStyle = Literal["format", "dollar"]


class MessageTemplate:
    """A per-person message; ``fields`` are the names it needs, so gaps are found before anything is sent."""

    def __init__(self, text: str, style: TemplateStyle = "format") -> None:
        if not text.strip():
            raise ValueError("the message template is empty")
        if style not in ("format", "dollar"):
            raise ValueError(f"template style must be 'format' or 'dollar', not {style!r}")
        self.text = text
        self.style = style
        self.fields = self._fields()

    def _fields(self) -> frozenset[str]:
        if self.style == "dollar":
            template = string.Template(self.text)
            if not template.is_valid():
                raise ValueError(f"invalid $-template {self.text!r} (write $$ for a literal $)")
            return frozenset(template.get_identifiers())
        try:
            parsed = list(string.Formatter().parse(self.text))
        except ValueError as exc:
            raise ValueError(f"invalid template {self.text!r}: {exc} (write {{{{ and }}}} for literal braces)") from exc
        names = set()
        for _, name, _, _ in parsed:
            if name is None:
                continue
            root = name.split(".", 1)[0].split("[", 1)[0]
            if not root or root.isdigit():
                raise ValueError(f"template fields must be named, like {{first_name}}, not {{{name}}}")
            names.add(root)
        return frozenset(names)

    def missing(self, values: dict[str, str]) -> list[str]:
        """Fields the template needs that are absent or blank in ``values``."""
        return sorted(name for name in self.fields if not values.get(name))

    def render(self, values: dict[str, str]) -> str:
        if self.style == "dollar":
            return string.Template(self.text).substitute(values)
        return self.text.format_map(values)
