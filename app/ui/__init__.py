"""PySide6 widgets. Talks to app.services and the value types in app.core.types only."""
