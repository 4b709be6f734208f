"""Vendor SLA review reports: what each target delivered over a window, against the SLO.

`build.build_report` turns traces into a `model.Report`; `render_json`, `render_html` and `pdf`
only format it.
"""
