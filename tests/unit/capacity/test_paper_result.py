"""The Etalon paper's Fig. 6a, qualitatively, in engine time (`monitor.capacity.replay`).

On long prompts the fluidity SLO rates whole-prompt prefill (vLLM-like) and chunked prefill
(Sarathi-like) about equal, a tail-TBT SLO rates chunked far lower (every chunk step is slower than
the TBT limit, and a long prompt makes many of them, while a whole prefill is one stall), and a
TPOT SLO rates chunked higher (decodes ride along with the chunks instead of stalling). The
engine and SLOs are those of `benchmarks/capacity_paper.py` (its README table).
"""

from __future__ import annotations

import itertools

from monitor.capacity.replay import replay_profile, replay_search
from monitor.capacity.run import CapacityOptions
from monitor.capacity.search import SearchConfig
from monitor.capacity.slo import SloThresholds
from monitor.capacity.workload import parse_lengths
from monitor.metrics.prefill import PrefillModel
from monitor.sim.batching import EngineModel, replay

ENGINE = EngineModel(
    max_batch=128, overhead_s=0.012, per_token_s=5e-5, per_decode_s=5e-5, attention_s=3e-9
)
OPTIONS = CapacityOptions(
    lengths=parse_lengths("uniform:4000-12000,100-300", 1, 1),
    thresholds=SloThresholds(decode_s=0.025, tbt_s=0.035, ttft_s=2.0, tpot_s=0.03),
    search=SearchConfig(start_qps=0.5, max_qps=16, granularity=0.05, max_steps=14),
    requests_per_step=100,
)


def capacities(variant: str) -> dict[str, float]:
    model = ENGINE.with_(variant=variant)
    coefficients = replay_profile(model, (1024, 2048, 4096, 8192, 12288))
    prefill = PrefillModel(coefficients=coefficients, slack_s=0.3)
    return replay_search(model, OPTIONS, prefill).capacity_qps


def test_replay_of_one_request_is_its_isolated_prefill() -> None:
    for variant in ("whole", "chunked"):
        model = ENGINE.with_(variant=variant)
        (times,) = replay(model, [0.0], [(6000, 3)])
        assert times[0] == model.isolated_ttft_s(6000)
        # then two decode steps of one request: max(0.012, 5e-5) + 5e-5 each
        assert [round(b - a, 9) for a, b in itertools.pairwise(times)] == [0.01205] * 2


def test_three_slos_rank_the_two_schedulers_differently() -> None:
    whole, chunked = capacities("whole"), capacities("chunked")
    assert whole["deadline"] > 0 and chunked["deadline"] > 0
    # fluidity: about equal (within 25 %)
    assert abs(whole["deadline"] - chunked["deadline"]) <= 0.25 * whole["deadline"]
    # tail TBT: chunked well below whole
    assert whole["tbt"] >= 2 * chunked["tbt"]
    # TTFT p90 + TPOT p90: chunked above whole
    assert chunked["ttft_tpot"] >= 1.15 * whole["ttft_tpot"]
