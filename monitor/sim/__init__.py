"""The simulated vendor: OpenAI chat, completions and Responses, Anthropic and Gemini SSE,
deterministic per seed.

Every test and demo talks to it over loopback. `start_simulator()` runs one in-process; the
`etalon-monitor simulate` command runs one standalone.
"""

from monitor.sim.profiles import PRESETS, Profile, Switch
from monitor.sim.server import RunningSimulator, SimRequest, Simulator, start_simulator

__all__ = [
    "PRESETS",
    "Profile",
    "RunningSimulator",
    "SimRequest",
    "Simulator",
    "Switch",
    "start_simulator",
]
