"""Training-only code: never imported by the app, never bundled (import-linter and build.spec check it)."""
