"""Writes data/language_invariance_example.csv: simulated answers to the dynamic-capabilities
items of surveys/tl_dc_bi.yaml from respondents who answered the English (`en`) or the Chinese
(`zh`) version (configs/language_invariance*.yaml).

400 respondents per language; sensing -> seizing -> reconfiguring (standardised paths .5 and
.55), loadings .75 on every item's latent response, 7-point answers (latent response 4 + 1.2 y*,
rounded and kept in 1..7); the Chinese respondents' sensing mean is 0.2 SD higher. One item is
non-invariant: the Chinese wording of sens3 ("新的商业机会一出现，我们公司就能迅速识别出来")
draws 0.8 scale points more agreement at the same level of sensing (a higher intercept). sens4 is
reverse-keyed: its raw answer is 8 minus the keyed one. Run from the repository root:

    .venv/bin/python data/language_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2017
N = 400
LOADING = 0.75
SHIFT = {("zh", "sens3"): 0.8}  # the non-invariant item: its intercept in the Chinese version
REVERSED = {"sens4"}


def simulate(seed: int = SEED, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for language, sens_mean in (("en", 0.0), ("zh", 0.2)):
        sens = rng.normal(sens_mean, 1.0, n)
        seiz = 0.5 * sens + rng.normal(0.0, np.sqrt(1 - 0.25), n)
        reco = 0.55 * seiz + rng.normal(0.0, np.sqrt(1 - 0.55**2), n)
        columns = {}
        for name, eta in (("sens", sens), ("seiz", seiz), ("reco", reco)):
            for k in range(1, 5):
                item = f"{name}{k}"
                latent = LOADING * eta + rng.normal(0.0, np.sqrt(1 - LOADING**2), n)
                answer = np.clip(np.rint(4 + 1.2 * latent + SHIFT.get((language, item), 0.0)), 1, 7)
                columns[item] = (8 - answer if item in REVERSED else answer).astype(int)
        frames.append(pd.DataFrame(columns).assign(language=language))
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "respondent_id", np.arange(1, len(frame) + 1))
    return frame[
        ["respondent_id", "language", *[c for c in frame if c.startswith(("sens", "seiz", "reco"))]]
    ]


if __name__ == "__main__":
    path = Path(__file__).with_name("language_invariance_example.csv")
    simulate().to_csv(path, index=False)
    print(f"wrote {path}")
