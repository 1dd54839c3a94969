"""Numbers written for readers: in tables, warnings and the command line, never in exponent form."""

from __future__ import annotations


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, as a reader writes it: whole numbers from
    10^(digits − 1) up, with thousands separators, and never in exponent form there.

    >>> significant(1027.4), significant(213.2), significant(19.34), significant(0.0104)
    ('1,027', '213', '19.3', '0.0104')
    >>> significant(1413.6, 4), significant(85.912, 4), significant(-133.2)
    ('1,414', '85.91', '-133')
    """
    return f"{value:,.0f}" if abs(value) >= 10 ** (digits - 1) else f"{value:.{digits}g}"
