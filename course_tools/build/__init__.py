"""The notebook builders: ``notebooks`` (roles of cells in a source notebook), ``generate`` (student and
solution versions), ``book`` (the exercise pages included in the chapters)."""
