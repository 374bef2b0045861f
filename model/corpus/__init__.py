"""Training-only corpus code: the real-music collection from Debian packages.

Modules: debian (fetch and unpack a package's .deb without installing it; the held-out
packages are refused there), licences (a track's licence from a Debian copyright file),
real_music (the package table, splits by package, conversion and ``manifest.csv``).
The app never imports this package.
"""
