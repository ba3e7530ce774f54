"""Colour themes as data files, and the small config file that remembers the choice.

Themes are TOML (or JSON) files whose keys are `textual.theme.Theme` fields plus a
`[variables]` table. They come from the repository's top-level `themes/` folder and from
the user's `$XDG_CONFIG_HOME/kubedeck/themes/`; a user file with the same name wins.
kubedeck's own variables (`pod-running`, ...) have defaults in `VARIABLE_DEFAULTS`, so
Textual's built-in themes work too. `AppThemes` is the app's side: it registers the files
found, picks one (the `--theme` asked for, then the remembered one, then the default),
remembers every change, and names the next one for `t`.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path

from textual.app import App
from textual.theme import Theme

from kubedeck.engine.files import write_atomic

log = logging.getLogger(__name__)

DEFAULT_THEME = "kubedeck-dark"
def _bundled_dir() -> Path:
    """The top-level themes/ folder, installed as the data package kubedeck.themes."""
    try:
        import kubedeck.themes

        return Path(kubedeck.themes.__file__).resolve().parent
    except ImportError:
        return Path(__file__).resolve().parents[1] / "themes"


BUNDLED_DIRS = (_bundled_dir(),)
VARIABLE_DEFAULTS = {
    "pod-running": "#4EBF71",
    "pod-pending": "#ffa62b",
    "pod-failed": "#ba3c5b",
    "pod-succeeded": "#888888",
}
_THEME_FIELDS = set(Theme.__dataclass_fields__)


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kubedeck"


def load_config(directory: Path) -> dict:
    try:
        data = json.loads((directory / "config.json").read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_config(directory: Path, **values: object) -> None:
    """Merge `values` into `config.json`; errors are logged, never raised."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        data = load_config(directory) | values
        write_atomic(directory / "config.json", json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        log.warning("cannot save config to %s: %s", directory, exc)


def theme_from_data(data: dict, fallback_name: str) -> Theme:
    fields = {k.replace("-", "_"): v for k, v in data.items() if k != "variables"}
    fields = {k: v for k, v in fields.items() if k in _THEME_FIELDS}
    fields.setdefault("name", fallback_name)
    variables = {str(k): str(v) for k, v in (data.get("variables") or {}).items()}
    return Theme(**fields, variables=variables)


def load_theme_file(path: Path) -> Theme:
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    return theme_from_data(data, path.stem)


def load_themes(user_dir: Path | None = None) -> tuple[dict[str, Theme], list[str]]:
    """All themes found, by name, and messages for files that could not be loaded."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    dirs = [d for d in BUNDLED_DIRS if d.is_dir()]
    if user_dir is not None and user_dir.is_dir():
        dirs.append(user_dir)
    for directory in dirs:
        for path in sorted(directory.iterdir()):
            if path.suffix not in (".toml", ".json"):
                continue
            try:
                theme = load_theme_file(path)
            except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
                problems.append(f"theme {path}: {exc}")
                continue
            themes[theme.name] = theme
    return themes, problems


class AppThemes:
    """The themes of one `App`, with their config directory and the theme asked for."""

    def __init__(self, app: App, directory: Path, requested: str | None) -> None:
        self.app = app
        self.directory = directory
        self.requested = requested
        self.names: list[str] = []  # kubedeck's own and the user's files, which `t` cycles

    def install(self) -> None:
        """Register the files and choose the theme; problems become warnings."""
        app = self.app
        found, problems = load_themes(self.directory / "themes")
        for theme in found.values():
            app.register_theme(theme)
        self.names = sorted(found)
        for problem in problems:
            app.notify(problem, severity="warning")
        wanted = self.requested or load_config(self.directory).get("theme") or DEFAULT_THEME
        if wanted not in app.available_themes:
            app.notify(f"unknown theme {wanted!r}; using {DEFAULT_THEME}", severity="warning")
            wanted = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
        app.theme = wanted
        if self.requested:
            save_config(self.directory, theme=app.theme)

    def remember(self, theme: Theme) -> None:
        save_config(self.directory, theme=theme.name)

    def next_name(self) -> str:
        names = self.names or sorted(self.app.available_themes)
        index = names.index(self.app.theme) + 1 if self.app.theme in names else 0
        return names[index % len(names)]
