"""Titan phases."""
