"""The deployable functions, one folder each (deployed with main.py at the bundle root).

A package only so the type checker and import-linter see every main.py under a name of its
own, `functions.<name>.main`."""
