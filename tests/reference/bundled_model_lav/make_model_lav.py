"""Write model_lav.json: the model.lav that bayeslead at commit 8bac682 renders for bundled configs.

Run with the project's venv from a checkout of that commit:
    git -C /work/main archive 8bac682 | tar -x -C /tmp/bl8bac682
    python make_model_lav.py /tmp/bl8bac682
"""

import json
import sys
from pathlib import Path

root = Path(sys.argv[1])
sys.path.insert(0, str(root))

from bayeslead.spec import build_spec  # noqa: E402

from bayeslead.config import load_config  # noqa: E402
from bayeslead.instrument import load_instrument  # noqa: E402

CONFIGS = [
    "tl_dc_bi_sem",
    "tl_dc_bi_sem_parallel",
    "holzinger1939",
    "leading_innovation_sem",
    "tl_dc_bi_hierarchical",
]
out = {}
for name in CONFIGS:
    config = load_config(root / "configs" / f"{name}.yaml")
    instrument = load_instrument(config.instrument) if config.instrument else None
    out[name] = build_spec(config, instrument).to_lavaan()
Path(__file__).with_name("model_lav.json").write_text(json.dumps(out, indent=1))
