"""The campaign desk: what `transcreate serve` shows a campaign manager in a browser.

Upload a base creative and a sheet (or paste rows), see every row and its problems before
anything runs, choose locales by name and sizes by shape, run, watch the progress, look at each
creative's copy by size, download everything as a zip. The engine is the same as the CLI's
(`wiring.localize`); the desk keeps each campaign's inputs and state in a folder of its own
under the served root (``store``), so nothing one campaign does touches another's.

- ``store``: campaigns on disk (inputs, state, the run's output folder)
- ``app``: the Starlette application (pages, uploads, progress, downloads, the served files)
"""
