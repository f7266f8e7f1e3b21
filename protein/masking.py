"""Passwords out of every output: a storage URL shown with ``***`` for its password, and a
driver's error message scrubbed of every trace of it."""

from __future__ import annotations


def mask_url(url: str) -> str:
    """``url`` with its password shown as ``***``: in the user info
    (``postgresql://u:S3cr3t@h/db``) and in a ``password=`` query or keyword."""
    import re

    out = re.sub(r"^([A-Za-z][\w+.-]*://[^/?#]*?:)[^/?#]*@", r"\1***@", url) if "://" in url else url
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", out)


def scrub(text: str, url: str) -> str:
    """``text`` (an error message from a driver) with every trace of ``url``'s password
    masked, as it is in ``mask_url``."""
    import re
    from urllib.parse import unquote

    secrets = []
    m = re.match(r"^[A-Za-z][\w+.-]*://[^/?#]*?:([^/?#]*)@", url)
    if m and m.group(1):
        secrets.append(m.group(1))
    secrets += re.findall(r"(?i)password=([^&\s]+)", url)
    secrets += [unquote(s) for s in secrets]
    # a password holding "@" is misread by drivers: its pieces show up as host names
    # ('Xy@127.0.0.1'); a short piece is masked where it touches an "@", a longer anywhere
    pieces = {p for s in secrets if "@" in s for p in s.split("@") if p}
    for s in sorted(set(secrets) | {p for p in pieces if len(p) >= 3}, key=len, reverse=True):
        text = text.replace(s, "***")
    for p in sorted((p for p in pieces if len(p) < 3), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(p)}@", "***@", text)
        text = re.sub(rf"@{re.escape(p)}(?![\w.-])", "@***", text)
    return text.replace(url, mask_url(url))
