"""Benchmarks behind ``soundalike bench NAME``: one module per benchmark, found automatically.

A benchmark is a module ``app/benchmarks/<name>.py`` exposing ``HELP: str``,
``configure(parser)`` and ``run(args) -> int`` (like ``app/commands``). Import torch, faiss
and other heavy libraries inside ``run`` only: ``soundalike --help`` imports every
benchmark module. Results are printed as "seconds of audio per wall second" (x realtime)
or operations per second, with the threads, device and load average they ran under.
"""
