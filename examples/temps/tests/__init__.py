"""Tests of the Temps example: the app against a fake Temps, through the testing kit,
the real runner and the local emulator."""
