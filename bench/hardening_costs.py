"""What issue 18's hardening costs, in one run (ratios, not absolute numbers, are the point).

    python bench/hardening_costs.py

- FilterLogEvents ``%regex%``: Python's backtracking ``re`` versus RE2 (``emulator.logs.filter``) on
  the catastrophic ``(.|.)*Z`` against lines of growing length, and on an ordinary pattern over
  10,000 log lines.
- Model tarball extraction: ``emulator.infra.safe_tar`` (every directory opened component by
  component with O_NOFOLLOW) versus ``tarfile``'s ``extractall(filter="data")`` on a many-file archive.
"""

from __future__ import annotations

import io
import re
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.infra import safe_tar
from emulator.logs.filter import compile_pattern


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def regex_costs() -> None:
    print("catastrophic %(.|.)*Z% on a line of n characters (no Z): seconds")
    backtracking = re.compile("(.|.)*Z")
    linear = compile_pattern("%(.|.)*Z%")
    for n in (16, 18, 20, 22):
        line = "a" * n
        slow = best(lambda line=line: backtracking.search(line), 1)
        fast = best(lambda line=line: linear(line))
        print(f"  n={n}: re {slow:.4f}  re2 {fast:.6f}  ratio {slow / fast:,.0f}x")
    lines = [f"epoch {i} loss={1 / (i + 1):.4f} lr=0.001" for i in range(10_000)]
    ordinary_re = re.compile(r"loss=0\.0[0-9]+")
    ordinary_re2 = compile_pattern(r"%loss=0\.0[0-9]+%")
    slow = best(lambda: [ordinary_re.search(x) for x in lines])
    fast = best(lambda: [ordinary_re2(x) for x in lines])
    print(f"ordinary %loss=0\\.0[0-9]+% over 10,000 lines: re {slow * 1000:.1f} ms, re2 {fast * 1000:.1f} ms "
          f"(re2/re {fast / slow:.2f})")


def tar_costs(files: int = 5000) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for i in range(files):
            data = b"x" * 512
            member = tarfile.TarInfo(f"code/pkg{i % 50}/sub/file{i}.py")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    root = Path(tempfile.mkdtemp())
    archive = root / "model.tar.gz"
    archive.write_bytes(out.getvalue())

    def with_filter() -> None:
        dest = root / "filter"
        shutil.rmtree(dest, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")

    def with_safe_tar() -> None:
        dest = root / "safe"
        shutil.rmtree(dest, ignore_errors=True)
        safe_tar.extract(archive, dest)

    plain, safe = best(with_filter), best(with_safe_tar)
    print(f"extract {files} files (depth 4): tarfile data filter {plain:.3f} s, safe_tar {safe:.3f} s "
          f"(safe_tar/tarfile {safe / plain:.2f})")
    shutil.rmtree(root)


if __name__ == "__main__":
    regex_costs()
    tar_costs()
