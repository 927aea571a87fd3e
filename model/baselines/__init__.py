"""Fixed, published SDR -> HDR10 conversions the learned model is compared against.

`BASELINES` is the one name -> function table; each takes SDR BT.709 R'G'B' in [0, 1]
`(..., 3)` and returns HDR10 PQ BT.2020 R'G'B' in [0, 1] `(..., 3)`.
"""

from collections.abc import Callable

from hdrtv.model.baselines.bt2408 import bt2408
from hdrtv.model.baselines.bt2446a import bt2446a

BASELINES: dict[str, Callable] = {"bt2408": bt2408, "bt2446a": bt2446a}

__all__ = ["BASELINES", "bt2408", "bt2446a"]
