"""Dashboards as code for etalon-monitor (grafana-foundation-sdk, Grafana 11.6 models).

`grafana/generate.py` writes every dashboard built here to `grafana/dashboards/*.json`; a test
regenerates them and compares, so the committed JSON never drifts from this code.
"""
