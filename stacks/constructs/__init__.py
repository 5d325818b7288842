"""Constructs: one capability each. They take typed keyword arguments, never the config object."""
