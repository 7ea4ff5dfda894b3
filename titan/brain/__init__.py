"""Titan brain."""
