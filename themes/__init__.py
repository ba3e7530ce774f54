"""kubedeck colour themes: data files loaded by kubedeck.tui.themes."""
