"""A page's state in its address: widgets start from the query string, and the page writes its
current state back, so any view can be bookmarked, reloaded or sent to someone else.

A widget's value is taken from the address only when the browser session has none yet (a link
just opened); after that the widget owns it, and `publish` keeps the address in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import streamlit as st

Value = str | int | float | Sequence[str] | None


def restore(key: str, name: str, options: Iterable[Any] | None = None,
            parse: Callable[[str], Any] = str, many: bool = False) -> None:
    """Seed widget `key` from query parameter `name` (a value not among `options` is ignored)."""
    if key in st.session_state or name not in st.query_params:
        return
    allowed = None if options is None else list(options)
    try:
        if many:
            values = [parse(v) for v in st.query_params.get_all(name)]
            st.session_state[key] = [v for v in values if allowed is None or v in allowed]
            return
        value = parse(st.query_params[name])
    except (TypeError, ValueError):
        return  # a hand-edited address: the widget keeps its default
    if allowed is None or value in allowed:
        st.session_state[key] = value


def query_string(state: Mapping[str, Value]) -> dict[str, str | list[str]]:
    """The parameters worth writing: set values only, lists as repeated parameters."""
    out: dict[str, str | list[str]] = {}
    for name, value in state.items():
        if value is None or value == "" or (isinstance(value, Sequence) and not isinstance(value, str) and not value):
            continue
        out[name] = [str(v) for v in value] if isinstance(value, Sequence) and not isinstance(value, str) else str(value)
    return out


def publish(state: Mapping[str, Value]) -> str:
    """Write the page's state to the address bar; returns the query string (for a copy link)."""
    wanted = query_string(state)
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    if current != {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}:
        st.query_params.from_dict(wanted)
    return urlencode(wanted, doseq=True)


def copy_link(path: str, query: str) -> None:
    """The view's address in a code box (its copy button puts it on the clipboard)."""
    base = _base_url()
    st.code(f"{base}/{path.lstrip('/')}" + (f"?{query}" if query else ""), language=None)


def _base_url() -> str:
    """This server's address as the browser reached it (a relative path where it is unknown)."""
    try:
        url = str(st.context.url or "")
    except AttributeError:
        url = ""
    if url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}" if rest else ""
    host = st.context.headers.get("host") if st.context.headers else None
    return f"http://{host}" if host else ""
