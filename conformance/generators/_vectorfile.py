"""Write one conformance vector file: the one writer every generator uses.

Standard library only: generators import it as a sibling module under whichever interpreter
they run in (the reference's, noiseprotocol's or ours).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT = "hivemind-conformance/1"


def write_vector_file(
    path: Path, suite: str, generator: str, vectors: list[dict[str, Any]]
) -> None:
    """Write ``vectors`` as a ``hivemind-conformance/1`` file (ids must be unique)."""
    ids = [vector["id"] for vector in vectors]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"{path}: duplicate vector ids {duplicates[:5]}")
    document = {"format": FORMAT, "suite": suite, "generator": generator, "vectors": vectors}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{path}: {len(vectors)} vectors, {path.stat().st_size} bytes")
