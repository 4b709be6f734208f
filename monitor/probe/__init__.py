"""The streaming prober: one request to a vendor, every chunk's arrival stamped, one `Trace` out.

`client.py` owns the session, timeouts, stamps, phases and outcome; `sse.py` the framing; one module
per wire format behind `wire.Wire`; `prompts.py` and `tokens.py` make exact-length prompts offline.
"""
