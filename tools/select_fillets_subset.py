"""Choose the shipped speech subset from Debian's ``fillets-ng-data-cs`` package.

Run once by a maintainer (not at training time)::

    apt-get download fillets-ng-data-cs && dpkg -x fillets-ng-data-cs_*.deb /tmp/fcs
    python tools/select_fillets_subset.py /tmp/fcs/usr/share/games/fillets-ng/sound data/fillets_cs

Selection: per speaker (``-v-`` male, ``-m-`` female), clips of 1.5-8 s, ordered by the SHA-1 of
their ``level/file`` name (a fixed pseudo-random order), taken until 7 minutes are reached.
Split by file within each speaker, in the same order: first 10 % of the minutes -> test, next
10 % -> valid, the rest -> train.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sys
from pathlib import Path

import soundfile as sf

MINUTES_PER_SPEAKER = 7.0
MIN_S, MAX_S = 1.5, 8.0


def main(src: str, dst: str) -> None:
    src_dir, dst_dir = Path(src), Path(dst)
    dst_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for tag, speaker in (("-v-", "male"), ("-m-", "female")):
        files = [p for p in src_dir.rglob("*.ogg") if tag in p.name]
        files.sort(
            key=lambda p: hashlib.sha1(f"{p.parent.parent.name}/{p.name}".encode()).hexdigest()
        )
        total = 0.0
        budget = MINUTES_PER_SPEAKER * 60
        for p in files:
            dur = sf.info(str(p)).duration
            if not MIN_S <= dur <= MAX_S:
                continue
            if total >= budget:
                break
            split = "test" if total < 0.1 * budget else "valid" if total < 0.2 * budget else "train"
            total += dur
            name = f"{p.parent.parent.name}__{p.name}"
            shutil.copyfile(p, dst_dir / name)
            rows.append(
                {"file": name, "speaker": speaker, "split": split, "duration_s": f"{dur:.3f}"}
            )
    rows.sort(key=lambda r: r["file"])
    with open(dst_dir / "splits.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "speaker", "split", "duration_s"])
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
