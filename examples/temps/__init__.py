"""The Temps example app (`app.py`).

This file makes the example's tests a package (`temps.tests`), so that their module
names never clash with other tests of the repository. The app itself is loaded by
path: `tempest-sdk serve examples/temps/app.py`.
"""
