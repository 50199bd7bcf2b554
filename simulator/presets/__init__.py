"""Preset scenarios, one TOML file each; the file name (without .toml) is the preset name."""

from __future__ import annotations

import tomllib
from pathlib import Path

_DIR = Path(__file__).parent

PRESETS: dict[str, dict] = {
    p.stem: tomllib.loads(p.read_text()) for p in sorted(_DIR.glob("*.toml"))
}
