"""Sphinx extension: drop repeated script entries from each page.

Under Jupyter Book 1.0.4, sphinx-thebe and sphinx-togglebutton register their inline
configuration scripts twice (once with ``filename=None``, once with ``filename=""``), so
every page declares ``const THEBE_JS_URL`` twice and the browser reports a SyntaxError.
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""
        attributes = getattr(script, "attributes", {}) or {}
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
