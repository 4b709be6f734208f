"""Etalon's other half for self-hosted engines: prefill profiling and capacity search.

`profile` measures isolated prefill TTFT per prompt length and fits `D_p(P)`; `step` runs one
open-loop load step and judges every SLO (`slo`) on the same requests; `search` picks the next QPS
and states capacity; `run` drives the search against an endpoint.
"""
