"""Titan feeds."""
