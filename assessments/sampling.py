"""Reproducible random draws for 抽查 (issue 15). Plain Python, no Django import.

A draw is a pure function of what a spot check records: the population (each member's id, weight
and stratum), the sample size, the method and the seed. Members are sorted by id before any
random number is taken and only Python's `random.Random(seed)` is used, so the same record gives
the same sample on any database, any machine and any later day (`manage.py spot_check_redraw`).

ALGORITHM names the procedure below; a change to it must get a new name, and old records keep
being re-run by the procedure they name.
"""

import heapq
import math
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

ALGORITHM = "portal-sampling-v1"

SIMPLE = "simple"
STRATIFIED = "stratified"
RISK_WEIGHTED = "risk_weighted"
METHODS = {
    SIMPLE: "简单随机抽样",
    STRATIFIED: "按主管部门分层抽样",
    RISK_WEIGHTED: "按风险提示加权抽样",
}
DESCRIPTIONS = {
    SIMPLE: "总体按编号升序排列，用 random.Random(种子).sample(编号列表, n) 不放回抽取 n 个。",
    STRATIFIED: (
        "按主管部门分层（层名按字符编码升序，未填写主管部门的为一层），每层按比例分配样本量："
        "先取 比例×层内个数 的整数部分，余下名额按小数部分从大到小（相同时按层名）逐层补一个；"
        "再用同一个 random.Random(种子) 依层名顺序在每层内按编号升序 sample 抽取。"
    ),
    RISK_WEIGHTED: (
        "权重 = 1 + 风险提示数。总体按编号升序，依次取 u = random.Random(种子).random()，"
        "排序键 = ln(u) / 权重（Efraimidis–Spirakis 加权不放回抽样），取排序键最大的 n 个（相同时编号小者优先）。"
    ),
}


class Member(NamedTuple):
    """A member of the population (a tuple: ten thousand are made per draw)."""

    id: int
    weight: int = 1
    stratum: str = ""


def sample_size(population: int, *, count: int | None = None, percent: Decimal | None = None) -> int:
    """n from a count (capped at the population) or a percentage (rounded half up)."""
    if count is not None:
        return max(0, min(count, population))
    if percent is not None:
        n = (Decimal(population) * Decimal(percent) / 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        return max(0, min(int(n), population))
    raise ValueError("count or percent")


def allocate(strata: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of n over strata sizes, by largest remainder (ties: stratum name)."""
    total = sum(strata.values())
    if total == 0 or n == 0:
        return {name: 0 for name in strata}
    exact = {name: Decimal(size) * n / total for name, size in strata.items()}
    taken = {name: int(value) for name, value in exact.items()}
    left = n - sum(taken.values())
    by_remainder = sorted(strata, key=lambda name: (-(exact[name] - taken[name]), name))
    for name in by_remainder[:left]:
        taken[name] += 1
    return taken


def draw(population: list[Member], n: int, method: str, seed: int) -> list[int]:
    """The sampled ids, ascending."""
    members = sorted(population, key=lambda m: m.id)
    if len({m.id for m in members}) != len(members):
        raise ValueError("duplicate ids in population")
    n = max(0, min(n, len(members)))
    rng = random.Random(seed)
    if method == SIMPLE:
        chosen = rng.sample([m.id for m in members], n)
    elif method == STRATIFIED:
        strata: dict[str, list[int]] = {}
        for m in members:
            strata.setdefault(m.stratum, []).append(m.id)
        quota = allocate({name: len(ids) for name, ids in strata.items()}, n)
        chosen = []
        for name in sorted(strata):
            chosen += rng.sample(strata[name], quota[name])
    elif method == RISK_WEIGHTED:
        if any(m.weight <= 0 for m in members):
            raise ValueError("weights must be positive")
        # random() may return 0.0, whose logarithm is undefined: the smallest float stands in.
        keys = ((math.log(rng.random() or 5e-324) / m.weight, -m.id, m.id) for m in members)
        chosen = [member_id for _, _, member_id in heapq.nlargest(n, keys)]
    else:
        raise ValueError(f"unknown method {method!r}")
    return sorted(chosen)
